/**
 * What an SDK user gets: `npm pack` of packages/sdk, installed into an empty
 * folder as a user would, holds the SDK and the hpke-js packages and nothing
 * else, installs without an engine warning, and runs the SDK README's example,
 * as written there, against a real server.
 *
 * It packs the build `npm test` made (--ignore-scripts skips the prepack
 * rebuild: rewriting packages/sdk/dist here would race the tests whose CLI
 * processes load it). npm install may fetch the @hpke packages from the registry.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect, promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../helper.js'
import { ROOT } from '../process-helper.js'

const run = promisify(execFile)
const SDK = join(ROOT, 'packages', 'sdk')
const EXPECTED_PACKAGES = ['@hpke/chacha20poly1305', '@hpke/common', '@hpke/core', '@hpke/dhkem-x25519', 'whatclient-sdk']

// npm run sets npm_config_local_prefix to this checkout: a child npm that kept it
// would install into the checkout instead of the empty folder.
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_(config_local_prefix$|package_|lifecycle_)/i.test(name)))

/** The first ```ts block under the README's "## Example" heading. */
function readmeExample (): string {
  const readme = readFileSync(join(SDK, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Example\n'))
  const match = /```ts\n([\s\S]*?)```/.exec(section)
  if (match?.[1] === undefined) throw new Error('no ts example under "## Example" in packages/sdk/README.md')
  return match[1]
}

/** Every package folder under node_modules, scoped ones as `@scope/name`, nested ones too. */
function installedPackages (nodeModules: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue
    const names = entry.startsWith('@') ? readdirSync(join(nodeModules, entry)).map((n) => `${entry}/${n}`) : [entry]
    for (const name of names) {
      found.push(name)
      const nested = join(nodeModules, name, 'node_modules')
      if (existsSync(nested)) found.push(...installedPackages(nested).map((n) => `${name} > ${n}`))
    }
  }
  return found.sort()
}

let server: TestServer
let scratch: string

beforeAll(async () => {
  server = await build()
  scratch = mkdtempSync(join(tmpdir(), 'whatclient-sdk-pack-'))
})
afterAll(async () => {
  await server?.close()
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
})

describe('the packed SDK', () => {
  it('installs alone into an empty folder, and its README example asks and answers against a server', async () => {
    if (!existsSync(join(SDK, 'dist', 'index.js'))) throw new Error('packages/sdk/dist is missing: run `npm run build` (npm test does) first')

    const packed = await run('npm', ['pack', '--workspace', 'whatclient-sdk', '--ignore-scripts', '--json', '--pack-destination', scratch],
      { cwd: ROOT, env: npmEnv, timeout: 60_000 })
    const [tarball] = JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    if (tarball === undefined) throw new Error(`npm pack said: ${packed.stdout}`)
    const files = tarball.files.map((f) => f.path).sort()
    expect(files).toContain('dist/index.js')
    expect(files).toContain('dist/index.d.ts')
    expect(files.filter((f) => !/^(package\.json|README\.md|dist\/[a-z-]+\.(js|d\.ts))$/.test(f))).toEqual([])

    const app = join(scratch, 'app')
    mkdirSync(app)
    // --prefer-offline: the cache that installing this checkout filled, else the registry.
    const installed = await run('npm', ['install', join(scratch, tarball.filename), '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: app, env: npmEnv, timeout: 120_000 })
    const npmSaid = installed.stdout + installed.stderr
    expect(npmSaid).not.toMatch(/EBADENGINE|Unsupported engine/i)
    expect(installedPackages(join(app, 'node_modules')), npmSaid).toEqual(EXPECTED_PACKAGES)

    const example = readmeExample()
    const here = example.replace("'http://127.0.0.1:8000'", JSON.stringify(server.url)).replace("apiKey: 'key'", `apiKey: ${JSON.stringify(server.key)}`)
    expect(here).toContain(server.url)
    expect(here).toContain(server.key)
    writeFileSync(join(app, 'example.mjs'), here)
    const ran = await run(process.execPath, ['example.mjs'], { cwd: app, timeout: 60_000 })
    expect(ran.stdout.trim()).toBe(inspect({ status: 'completed', clientName: 'exteraGram', packageName: 'com.exteragram.messenger' }))
  }, 240_000)
})
