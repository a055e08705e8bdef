import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { keptTick } from '../src/keep-tick-shape.js'

const BUILT = fileURLToPath(new URL('../dist/src/keep-tick-shape.js', import.meta.url))

/** Descriptions of an object's own symbol keys. */
const symbolNames = (value: object): Array<string | undefined> => Object.getOwnPropertySymbols(value).map((s) => s.description)

describe('keep-tick-shape', () => {
  it('holds one of Node\'s own tick objects', async () => {
    await new Promise((resolve) => process.nextTick(resolve))
    const kept = keptTick()
    expect(kept).toBeTypeOf('object')
    // Node 24 adds a third symbol (its async context frame).
    expect(symbolNames(kept as object)).toEqual(expect.arrayContaining(['async_id_symbol', 'trigger_async_id_symbol']))
    expect(Object.keys(kept as object)).toEqual(['callback', 'args'])
  })

  it('after full collections with no tick queued, a new tick object still has the kept one\'s hidden class', () => {
    // A fresh process (no other ticks alive), V8's own map comparison: no timing involved.
    const script = `
      import { executionAsyncResource } from 'node:async_hooks'
      const { keptTick } = await import(${JSON.stringify(BUILT)})
      await new Promise((resolve) => setImmediate(resolve))
      for (let i = 0; i < 4; i++) {
        globalThis.gc()
        await new Promise((resolve) => setImmediate(resolve))
      }
      const fresh = await new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())))
      const kept = keptTick()
      console.log(JSON.stringify({ kept: kept !== undefined, distinct: kept !== fresh, sameMap: %HaveSameMap(kept, fresh) }))
    `
    const run = spawnSync(process.execPath, ['--expose-gc', '--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(JSON.parse(run.stdout)).toEqual({ kept: true, distinct: true, sameMap: true })
  })
})
