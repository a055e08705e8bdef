import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../helper.js'
import { freePort, runCli } from '../process-helper.js'
import { recordingProxy, standIn } from './stand-in.js'

let server: TestServer

beforeAll(async () => { server = await build() })

const lines = (text: string): string[] => text.trimEnd().split('\n')

describe('whatclient selftest', () => {
  it('passes against our server with the right key, a line per check', async () => {
    const run = runCli(['selftest', '--server', server.url, '--key', server.key])
    expect(await run.exited).toBe(0)
    const out = lines(run.stdout())
    expect(out[0]).toBe(`Checking ${server.url}`)
    expect(out.slice(1, -1).map((line) => line.split(':')[0])).toEqual([
      'ok    liveness', 'ok    readiness', 'ok    forged signature refused', 'ok    unsigned call refused',
      'ok    full flow', 'ok    long-poll', 'ok    unknown path'
    ])
    expect(run.stdout()).toMatch(/ok {4}full flow: .*com\.exteragram\.messenger came back as "exteraGram", once\n/)
    expect(run.stdout()).toMatch(/ok {4}long-poll: a held getRequestResult answered \d+ ms after the submit was sent/)
    expect(out.at(-1)).toBe('all 7 checks passed')
    expect(run.stderr()).toBe('')
  })

  it('takes the server and key from the environment too', async () => {
    const run = runCli(['selftest'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    expect(await run.exited).toBe(0)
  })

  it('fails with a clear line against the wrong key', async () => {
    const run = runCli(['selftest', '--server', server.url, '--key', 'not the key'])
    expect(await run.exited).toBe(1)
    expect(run.stdout()).toMatch(/^FAIL {2}full flow: POST \/requestClient answered 403 \{"detail":"Invalid signature\."\}, expected 200: the key is not this server's API_SECRET_KEY \(--key \/ WHATCLIENT_KEY\)$/m)
    expect(run.stdout()).toMatch(/^ok {4}forged signature refused/m)
    expect(lines(run.stdout()).at(-1)).toBe('2 of 7 checks failed')
  })

  it('fails with a clear line against a server that is down', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const run = runCli(['selftest', '--server', url, '--key', 'k'])
    expect(await run.exited).toBe(1)
    expect(lines(run.stdout())).toEqual([
      `Checking ${url}`,
      `FAIL  liveness: cannot reach ${url} (ECONNREFUSED)`,
      'skip  the other 6 checks: they need the server',
      '1 of 7 checks failed, 6 skipped'
    ])
  })

  it('fails when a server takes forged and unsigned calls', async () => {
    const lax = await standIn((method, path) => {
      if (path === '/healthz') return { body: { status: 'ok' } }
      if (path === '/readyz') return { body: { status: 'ready' } }
      if (method === 'POST') return { body: { request_id: 'r1' } }
      return { status: 404, body: { detail: 'Not Found' } }
    })
    try {
      const run = runCli(['selftest', '--server', lax.url, '--key', 'k'])
      expect(await run.exited).toBe(1)
      expect(run.stdout()).toMatch(/^FAIL {2}forged signature refused: POST \/requestClient with a forged signature answered 200 \{"request_id":"r1"\}, expected 403 \{"detail":"Invalid signature\."\}$/m)
      expect(run.stdout()).toMatch(/^FAIL {2}unsigned call refused: POST \/requestClient without a signature answered 200/m)
    } finally {
      await lax.close()
    }
  })

  it('fails when polls are not held (a proxy or server that drops ?wait=)', async () => {
    const v1 = await recordingProxy(server.url, { dropQuery: true })
    try {
      const run = runCli(['selftest', '--server', v1.url, '--key', server.key])
      expect(await run.exited).toBe(1)
      expect(run.stdout()).toMatch(/^FAIL {2}long-poll: GET \/getRequestResult\?wait=5 answered after \d+ ms, before anything happened: 200 \{"status":"pending"\} \(does the server, or a proxy in front of it, hold long-polls\?\)$/m)
      expect(run.stdout()).toMatch(/^ok {4}full flow/m)
    } finally {
      await v1.close()
    }
  })

  it('shows what a hostile server says escaped', async () => {
    const hostile = await standIn(() => ({ status: 500, body: '\x1b]0;pwned\x07\x1b[2J' }))
    try {
      const run = runCli(['selftest', '--server', hostile.url, '--key', 'k'])
      expect(await run.exited).toBe(1)
      expect(run.stdout()).not.toMatch(/[\x07\x1b]/)
      expect(run.stdout()).toContain('FAIL  liveness: GET /healthz answered 500 \\x1b]0;pwned\\x07\\x1b[2J, expected 200 {"status":"ok"}')
    } finally {
      await hostile.close()
    }
  })

  it('--help', async () => {
    const help = runCli(['selftest', '--help'])
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toMatch(/^Usage: whatclient selftest/)
  })
})
