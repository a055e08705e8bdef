import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { keptTick } from '../src/keep-tick-shape.js'

const BUILT = new URL('../dist/src/keep-tick-shape.js', import.meta.url)
const ID_SYMBOLS = ['async_id_symbol', 'trigger_async_id_symbol']

/** Runs an ES module script in a fresh Node with `flags`, with nothing of this environment but PATH and HOME. */
function runFresh (flags: string[], script: string): { stdout: string, stderr: string } {
  if (!existsSync(BUILT)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests')
  const run = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }
  })
  return { stdout: run.stdout, stderr: run.stderr }
}

describe('keep-tick-shape', () => {
  it('holds one of Node\'s own tick objects, with nothing else on it', () => {
    // A fresh process imports it at the top, as the entry points do.
    const script = `
      import { keptTick } from ${JSON.stringify(BUILT.href)}
      await new Promise((resolve) => setImmediate(resolve))
      const kept = keptTick()
      const symbols = Object.getOwnPropertySymbols(kept)
      console.log(JSON.stringify({
        keys: Object.keys(kept),
        args: kept.args,
        ids: symbols.filter((s) => typeof kept[s] === 'number').map((s) => s.description).sort(),
        // Node 24 adds the async context frame current when the tick was made: none here.
        others: symbols.filter((s) => typeof kept[s] !== 'number').map((s) => [s.description, kept[s] === undefined])
      }))
    `
    const run = runFresh([], script)
    expect(run.stderr).toBe('')
    const held = JSON.parse(run.stdout) as { keys: string[], args: unknown, ids: string[], others: Array<[string, boolean]> }
    expect(held.keys).toEqual(['callback', 'args'])
    expect(held.args).toBeUndefined()
    expect(held.ids).toEqual(ID_SYMBOLS)
    for (const [, empty] of held.others) expect(empty).toBe(true)
  })

  it('the same in this process once the first ticks have run', async () => {
    await new Promise((resolve) => process.nextTick(resolve))
    const kept = keptTick() as object
    expect(Object.getOwnPropertySymbols(kept).map((s) => s.description)).toEqual(expect.arrayContaining(ID_SYMBOLS))
  })

  it('after full collections with no tick queued, a new tick object still has the kept one\'s hidden class', () => {
    // V8's own map comparison (--allow-natives-syntax), no timing: nextTick is made hot
    // first, as a server's first requests make it, then collected around four times.
    const script = `
      import { executionAsyncResource } from 'node:async_hooks'
      import { keptTick } from ${JSON.stringify(BUILT.href)}
      for (let i = 0; i < 20000; i++) process.nextTick(() => {})
      await new Promise((resolve) => setImmediate(resolve))
      for (let i = 0; i < 4; i++) {
        globalThis.gc()
        await new Promise((resolve) => setImmediate(resolve))
      }
      const fresh = await new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())))
      const kept = keptTick()
      console.log(JSON.stringify({ kept: kept !== undefined, distinct: kept !== fresh, sameMap: %HaveSameMap(kept, fresh) }))
    `
    const run = runFresh(['--expose-gc', '--allow-natives-syntax'], script)
    expect(run.stderr).toBe('')
    expect(JSON.parse(run.stdout)).toEqual({ kept: true, distinct: true, sameMap: true })
  })

  it('is the first import of both entry points', () => {
    for (const [file, specifier] of [['../src/cli/index.ts', '../keep-tick-shape.js'], ['../src/server.ts', './keep-tick-shape.js']] as const) {
      const source = readFileSync(new URL(file, import.meta.url), 'utf8')
      const firstImport = /^import .*$/m.exec(source)?.[0]
      expect(firstImport, file).toBe(`import '${specifier}'`)
    }
  })
})
