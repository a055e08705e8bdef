import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { SERVE_NODE_FLAGS } from '../../bench/lib/processes.js'
import { loadConfig } from '../../src/config.js'

const run = promisify(execFile)
const path = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url))
const UNIT = path('deploy/systemd/whatclient@.service')
const ENV_EXAMPLE = path('deploy/systemd/whatclient.env.example')

async function has (command: string): Promise<boolean> {
  try {
    await run(command, ['--version'])
    return true
  } catch {
    return false
  }
}

const analyze = await has('systemd-analyze')
const why = analyze ? '' : ' (skipped: systemd-analyze is not installed here)'
if (!analyze) console.warn('systemd-analyze is not installed: the systemd unit is not verified')

describe('the systemd unit', () => {
  it.skipIf(!analyze)(`passes systemd-analyze verify with nothing to say${why}`, async () => {
    // verify exits 0 on unknown keys and bad values: what it prints about the unit is the finding.
    const { stdout, stderr } = await run('systemd-analyze', ['verify', UNIT])
    const findings = (stdout + stderr).split('\n').filter((line) => line.includes('whatclient'))
    expect(findings).toEqual([])
  })

  it.skipIf(!analyze)(`is rated OK (exposure 2.0 or less) by systemd-analyze security${why}`, async () => {
    // --threshold is in tenths: a higher exposure exits non-zero, and run() rejects.
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', UNIT])
    expect(stdout).toMatch(/Overall exposure level for whatclient@.*: [0-2]\.\d OK/)
  })

  it('keeps the settings promised in docs/operations.md', () => {
    const unit = readFileSync(UNIT, 'utf8')
    for (const line of ['DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
      'Restart=on-failure', 'EnvironmentFile=/etc/whatclient/%i.env', 'CapabilityBoundingSet=']) {
      expect(unit.split('\n')).toContain(line)
    }
  })
})

describe('how the server is started', () => {
  it('with the same Node flags by npm start, the Dockerfile, the systemd unit and the benchmarks', () => {
    const start = (JSON.parse(readFileSync(path('package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
    const unit = readFileSync(UNIT, 'utf8')
    const docker = readFileSync(path('deploy/docker/Dockerfile'), 'utf8')
    const flags = SERVE_NODE_FLAGS.join(' ')
    expect(start).toBe(`node ${flags} dist/src/cli/index.js serve`)
    expect(unit.split('\n')).toContain(`ExecStart=/usr/bin/node ${flags} /opt/whatclient/dist/src/cli/index.js serve`)
    expect(docker.split('\n')).toContain(`CMD ${JSON.stringify(['node', ...SERVE_NODE_FLAGS, 'dist/src/cli/index.js', 'serve']).replaceAll(',', ', ')}`)
  })
})

describe('the settings example', () => {
  it('names only real settings, each with a value the server accepts once the key is filled in', () => {
    const readme = readFileSync(path('README.md'), 'utf8')
    const env: Record<string, string> = {}
    for (const line of readFileSync(ENV_EXAMPLE, 'utf8').split('\n')) {
      // Commented-out settings too: uncommenting one must not stop the server.
      const match = /^#? ?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
      if (match === null) continue
      const [, name, value] = match as unknown as [string, string, string]
      expect(readme, `${name} is in the README's settings table`).toContain(`| \`${name}\` |`)
      if (!value.startsWith('<')) env[name] = value
    }
    // The key is left for the operator to fill in: as it comes, the example does not start a server.
    expect(env.API_SECRET_KEY).toBe('')
    const storeKey = Buffer.alloc(32, 1).toString('base64')
    expect(() => loadConfig({ ...env, STORE_KEY: storeKey })).toThrow(/API_SECRET_KEY is empty/)
    expect(() => loadConfig({ ...env, API_SECRET_KEY: 'k', STORE_KEY: storeKey })).not.toThrow()
  })

  it("has a line for every setting in the README's tables", () => {
    const example = readFileSync(ENV_EXAMPLE, 'utf8')
    const settings = [...readFileSync(path('README.md'), 'utf8').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1] as string)
    expect(settings.length).toBeGreaterThan(30)
    for (const name of settings) expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'))
  })
})
