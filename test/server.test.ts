import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { sign } from '../src/crypto/signature.js'
import { freePort, ROOT, runCli, serveProcess, wrap } from './process-helper.js'

describe('the server process', () => {
  it('`PORT=... API_SECRET_KEY=... npm start` serves on that port', async () => {
    const port = await freePort()
    // --ignore-scripts skips only the prestart build, which npm test has done: rebuilding
    // dist/ here would race the other test files that run it.
    const child = wrap(spawn('npm', ['start', '--ignore-scripts'], { cwd: ROOT, env: { ...process.env, PORT: String(port), API_SECRET_KEY: 'k1' }, detached: true }))
    try {
      await child.waitFor(/Server listening/, 60_000)
      const res = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(res.status).toBe(200)
      const tasks = await fetch(`http://127.0.0.1:${port}/getTasks/1`, { headers: { 'x-signature': sign('k1', '/getTasks/1') } })
      expect(await tasks.json()).toEqual({ tasks: [] })
    } finally {
      process.kill(-(child.process.pid as number), 'SIGTERM')
      await child.exited
    }
  })

  it('without API_SECRET_KEY, starts with a random key and says how to read and set it', async () => {
    const { child, url } = await serveProcess()
    try {
      const key = (await child.waitFor(/API_SECRET_KEY=(\S+)/))[1] as string
      expect(child.stderr()).toContain('To choose your own')
      const res = await fetch(`${url}/getTasks/1`, { headers: { 'x-signature': sign(key, '/getTasks/1') } })
      expect(res.status).toBe(200)
      expect(child.stdout()).not.toContain(key)
    } finally {
      child.process.kill('SIGTERM')
      await child.exited
    }
  })

  it('on SIGTERM answers held polls at once and exits 0', async () => {
    const { child, url } = await serveProcess({ API_SECRET_KEY: 'k2' })
    const held = fetch(`${url}/getTasks/42?wait=30`, { headers: { 'x-signature': sign('k2', '/getTasks/42') } })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const sent = Date.now()
    child.process.kill('SIGTERM')
    const res = await held
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ tasks: [] })
    expect(await child.exited).toBe(0)
    // Far below the 30 s hold: shutdown does not wait for deadlines.
    expect(Date.now() - sent).toBeLessThan(10_000)
  })

  it.each([
    [{ PORT: 'abc' }, /PORT must be integer/],
    [{ PORT: '70000' }, /PORT must be <= 65535/],
    [{ REQUEST_TTL_SECONDS: '0' }, /REQUEST_TTL_SECONDS must be > 0/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be equal to one of the allowed values/],
    [{ STORE: 'redis' }, /STORE=redis needs STORE_KEY/],
    [{ STORE: 'redis', STORE_KEY: 'c2hvcnQ=' }, /STORE_KEY must be 32 bytes/]
  ])('refuses to start with %o, saying why', async (env, message) => {
    const child = runCli(['serve'], env)
    expect(await child.exited).toBe(1)
    expect(child.stderr()).toMatch(message)
    expect(child.stderr()).not.toMatch(/at .*\.js:\d+/)
  })
})
