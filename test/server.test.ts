import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createServer } from 'node:net'
import { createClient } from 'redis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { sign } from '../src/crypto/signature.js'
import { build, eventually, heldPollsBecome, logLines, rawConnection, ReplyGate, requestText, signedClient, signedPath, sleep, type RawConnection, type TestServer } from './helper.js'
import { freePort, ROOT, runCli, serveProcess, wrap } from './process-helper.js'
import { startPrivateRedis } from './store/redis-helper.js'

describe('the server process', () => {
  it('`PORT=... API_SECRET_KEY=... npm start` serves on that port, from the build, without compiling', async () => {
    const port = await freePort()
    const child = wrap(spawn('npm', ['start'], { cwd: ROOT, env: { ...process.env, PORT: String(port), API_SECRET_KEY: 'k1' }, detached: true }))
    try {
      await child.waitFor(/Server listening/, 60_000)
      expect(child.stdout()).not.toMatch(/tsc|npm run build/)
      const res = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(res.status).toBe(200)
      const tasks = await signedClient(`http://127.0.0.1:${port}`, 'k1').get('/getTasks/1')
      expect(await tasks.json()).toEqual({ tasks: [] })
    } finally {
      process.kill(-(child.process.pid as number), 'SIGTERM')
      await child.exited
    }
  })

  it('in a fresh clone, `npm ci` builds once, and then `npx whatclient` and `npm start` run the build', async () => {
    const clone = mkdtempSync(join(tmpdir(), 'whatclient-clone-'))
    try {
      // What a clone holds: the tracked files, without node_modules or dist.
      const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f !== '')
      for (const file of tracked) {
        mkdirSync(dirname(join(clone, file)), { recursive: true })
        cpSync(join(ROOT, file), join(clone, file))
      }
      // --offline: from the npm cache that installing this checkout filled; nothing is fetched.
      execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: clone, stdio: 'pipe' })
      // --no-install: run this clone's own bin or fail, never fetch a package of that name.
      const help = execFileSync('npx', ['--no-install', 'whatclient', '--help'], { cwd: clone, encoding: 'utf8' })
      expect(help).toMatch(/^Usage: whatclient/)
      const port = await freePort()
      const child = wrap(spawn('npm', ['start'], { cwd: clone, env: { ...process.env, PORT: String(port), API_SECRET_KEY: 'k4' }, detached: true }))
      try {
        await child.waitFor(/Server listening/, 60_000)
        expect(child.stdout()).not.toMatch(/tsc|npm run build/)
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
      } finally {
        process.kill(-(child.process.pid as number), 'SIGTERM')
        await child.exited
      }
    } finally {
      rmSync(clone, { recursive: true, force: true })
    }
  }, 240_000)

  it('without API_SECRET_KEY, starts with a random key and says how to read and set it', async () => {
    const { child, url } = await serveProcess()
    try {
      const key = (await child.waitFor(/API_SECRET_KEY=(\S+)/))[1] as string
      expect(child.stderr()).toContain('To choose your own')
      const res = await signedClient(url, key).get('/getTasks/1')
      expect(res.status).toBe(200)
      expect(child.stdout()).not.toContain(key)
    } finally {
      child.process.kill('SIGTERM')
      await child.exited
    }
  })

  it('prints no random-key banner with v1 switched off: nothing is signed with the key', async () => {
    const { child, url } = await serveProcess({ V1_ENABLED: 'false', TELEGRAM_BOT_ID: '7000000001' })
    try {
      expect((await fetch(`${url}/v2/info`)).status).toBe(200)
      // One line says what this run serves.
      const serving = (await child.waitFor(/^(\{.*"msg":"serving".*\})$/m))[1] as string
      expect(JSON.parse(serving)).toMatchObject({ level: 30, node: process.version, store: 'memory', v1: false, signIn: true })
      // CI runs the suite on Node 20 (end-of-life) and on Node 24.
      const endOfLife = /"level":40,.*"msg":"this Node.js is end-of-life and gets no security fixes: run Node 24"/
      if (process.versions.node.startsWith('20.')) await child.waitFor(endOfLife)
      else expect(child.stdout()).not.toMatch(endOfLife)
      expect(child.stderr() + child.stdout()).not.toMatch(/API_SECRET_KEY=|random key/)
    } finally {
      child.process.kill('SIGTERM')
      await child.exited
    }
  })

  it('prints the random-key banner only once it listens', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const child = runCli(['serve'], { PORT: String((taken.address() as { port: number }).port), HOST: '127.0.0.1' })
      expect(await child.exited).toBe(1)
      // Node's words name the address; ours, the settings to change.
      expect(child.stderr()).toMatch(/cannot start \[WC_ERR_CANNOT_LISTEN\]: cannot listen at HOST=127\.0\.0\.1 PORT=\d+: listen EADDRINUSE/)
      expect(child.stderr() + child.stdout()).not.toMatch(/API_SECRET_KEY=|random key/)
    } finally {
      taken.close()
    }
  })

  it('names the metrics settings when the metrics port is taken', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const child = runCli(['serve'], { PORT: '0', METRICS_PORT: String((taken.address() as { port: number }).port) })
      expect(await child.exited).toBe(1)
      expect(child.stderr()).toMatch(/cannot start \[WC_ERR_CANNOT_LISTEN\]: cannot listen at METRICS_HOST=127\.0\.0\.1 METRICS_PORT=\d+: listen EADDRINUSE/)
    } finally {
      taken.close()
    }
  })

  it('with Redis down at start, says only that it cannot reach Redis, and where (never a password)', async () => {
    const port = await freePort()
    const child = runCli(['serve'], { PORT: '0', STORE: 'redis', STORE_KEY: randomBytes(32).toString('base64'), API_SECRET_KEY: 'k', REDIS_URL: `redis://:pw-secret@127.0.0.1:${port}` })
    expect(await child.exited).toBe(1)
    const said = child.stderr() + child.stdout()
    expect(said).toContain(`cannot start [WC_ERR_REDIS_UNREACHABLE]: cannot reach Redis at 127.0.0.1:${port} (REDIS_URL) within`)
    expect(said).not.toContain('pw-secret')
    // It never served: nothing about calls answering 503, no key to use.
    expect(said).not.toMatch(/503|until Redis is back|API_SECRET_KEY=/)
  })

  it('with the wrong Redis password, or none, says what Redis answered (never the password)', async () => {
    const redis = await startPrivateRedis()
    const admin = createClient({ url: redis.url })
    await admin.connect()
    await admin.configSet('requirepass', 'right-pw')
    admin.destroy()
    const serve = (url: string): ReturnType<typeof runCli> => runCli(['serve'], { PORT: '0', STORE: 'redis', STORE_KEY: randomBytes(32).toString('base64'), API_SECRET_KEY: 'k', REDIS_URL: url })
    const [wrong, none] = [serve(`redis://:wrong-pw@127.0.0.1:${redis.port}`), serve(`redis://127.0.0.1:${redis.port}`)]
    expect(await wrong.exited).toBe(1)
    expect(await none.exited).toBe(1)
    expect(wrong.stderr()).toMatch(new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${redis.port} \\(REDIS_URL\\) within \\d+ ms: WRONGPASS`))
    expect(none.stderr()).toMatch(/within \d+ ms: NOAUTH/)
    expect(wrong.stderr() + wrong.stdout()).not.toContain('wrong-pw')
  })

  it('exits on SIGTERM though its stdout is a pipe no one reads any more (`serve | head`)', async () => {
    // No API_SECRET_KEY: the banner on stderr says it listens.
    const child = runCli(['serve'], { PORT: '0' })
    await child.waitFor(/API_SECRET_KEY=/)
    child.process.stdout.destroy()
    child.process.kill('SIGTERM')
    // Its last lines meet EPIPE: they are dropped, and it exits within SHUTDOWN_TIMEOUT_SECONDS (10 s).
    const timedOut = setTimeout(() => { child.process.kill('SIGKILL') }, 20_000)
    try {
      expect(await child.exited).toBe(0)
    } finally {
      clearTimeout(timedOut)
    }
  })

  it('on SIGTERM answers held polls at once and exits 0', async () => {
    const { child, url } = await serveProcess({ API_SECRET_KEY: 'k2' })
    const held = signedClient(url, 'k2').get('/getTasks/42?wait=30')
    await sleep(300)
    const sent = Date.now()
    child.process.kill('SIGTERM')
    const res = await held
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ tasks: [] })
    expect(await child.exited).toBe(0)
    // Far below the 30 s hold: shutdown does not wait for deadlines.
    expect(Date.now() - sent).toBeLessThan(10_000)
  })

  it('on SIGTERM closes idle and silent connections, cuts half-sent requests, logs what it waits for and the last summary, and exits 0', async () => {
    const { child, url } = await serveProcess({ API_SECRET_KEY: 'k3', LOG_SUMMARY_SECONDS: '3600' })
    const answered = async (c: RawConnection): Promise<void> => {
      await eventually(() => c.received().includes('{"status":"ok"}'), { timeoutMs: 5000, message: () => `{"status":"ok"} in ${JSON.stringify(c.received())}` })
    }
    const idle = rawConnection(url)
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await answered(idle)
    const silent = rawConnection(url)
    const halfBody = rawConnection(url)
    halfBody.write('POST /requestClient HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Signature: 00\r\n\r\n{"requester_id": 1')
    const halfHeaders = rawConnection(url)
    halfHeaders.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await answered(halfHeaders)
    halfHeaders.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    await sleep(300)

    child.process.kill('SIGTERM')
    // Within SHUTDOWN_TIMEOUT_SECONDS (10 s) or it exits 1.
    expect(await child.exited).toBe(0)
    await Promise.all([idle.closed, silent.closed, halfBody.closed, halfHeaders.closed])
    const lines = child.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 0, requestsCut: 1, connectionsClosed: 3 }))
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'requests', method: 'GET', route: '/healthz', statusCode: 200, count: 2 }))
  })

  // Which settings are refused, and with what words, is test/config.test.ts's (in-process);
  // this is what the process does with any of them.
  it('refuses to start with a bad setting: exit code 1, the reason, no stack trace', async () => {
    const child = runCli(['serve'], { STORE: 'redis', STORE_KEY: 'c2hvcnQ=' })
    expect(await child.exited).toBe(1)
    expect(child.stderr()).toMatch(/STORE_KEY must be 32 bytes/)
    expect(child.stderr()).not.toMatch(/at .*\.js:\d+/)
  })
})

/** A keep-alive GET on its own connection; resolves with the response text once the server closes the connection. */
function keepAliveGet (server: TestServer, path: string): { response: Promise<string> } {
  const connection = rawConnection(server.url)
  connection.write(requestText('GET', path, { 'x-signature': sign(server.key, signedPath(path)), connection: 'keep-alive' }))
  return { response: connection.closed }
}

/** A signed poll of `path` (query `?wait=<waitSeconds>`) and a /healthz call pipelined behind it, on one connection. */
function pollWithCallBehind (server: TestServer, path: string, waitSeconds: number): RawConnection {
  const connection = rawConnection(server.url)
  connection.write(requestText('GET', `${path}?wait=${waitSeconds}`, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }) +
    requestText('GET', '/healthz', { connection: 'keep-alive' }))
  return connection
}

/** 'closed' once `done` settles, 'still open' after 10 s: far below the timeouts a close must not wait out. */
async function closesSoon (done: Promise<unknown>): Promise<string> {
  return await Promise.race([done.then(() => 'closed'), sleep(10_000).then(() => 'still open')])
}

/** A complete POST /slow (the route callInFlight adds), to pipeline behind another call. */
const SLOW_CALL = 'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
/** A POST /slow whose body is still arriving (it never ends unless the test writes the rest). */
const UNFINISHED_CALL = 'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": 1'

/**
 * A server whose routes hold replies back (the gate) and that has POST /slow, answered
 * only after `slow.release()`; and a keep-alive connection with a signed ?wait=0 poll of
 * `path` in flight, held by the gate, with `behind` pipelined after it.
 */
async function callInFlight (path: string, behind = ''): Promise<{ server: TestServer, gate: ReplyGate, slow: { release: () => void }, client: RawConnection }> {
  const gate = new ReplyGate()
  let release = (): void => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const server = await build({}, {
    beforeListen: (app) => {
      gate.install(app)
      app.post('/slow', async () => { await released; return { slow: true } })
    }
  })
  const client = rawConnection(server.url)
  onTestFinished(() => { client.destroy() })
  gate.armed = true
  // ?wait=0: through the routes, where the gate is.
  client.write(requestText('GET', `${path}?wait=0`, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }) + behind)
  await eventually(() => gate.held > 0, { timeoutMs: 2000 })
  return { server, gate, slow: { release }, client }
}

describe('closing the app', () => {
  it('logs what it waits for while a call is in flight, and finishes it with Connection: close', async () => {
    const { server, gate, client } = await callInFlight('/getTasks/31')
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('waiting for requests in flight')))
    gate.release()
    await closed
    const response = await client.closed
    expect(response).toMatch(/^HTTP\/1\.1 200 [\s\S]*\{"tasks":\[\]\}$/)
    // The connection is closed after this reply: a keep-alive client must not count on reusing it.
    expect(response).toMatch(/\r\nconnection: close\r\n/i)
    const lines = logLines(server)
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 1, requestsCut: 0, connectionsClosed: 0 }))
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down: waiting for requests in flight', inFlight: 1 }))
  })

  it('closes a silent connection and a half-sent head while a call is in flight, and does not wait for them', async () => {
    const { server, gate, client } = await callInFlight('/getTasks/33')
    const silent = rawConnection(server.url)
    const halfHead = rawConnection(server.url)
    halfHead.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    await sleep(200)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('waiting for requests in flight')))
    const lines = logLines(server)
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 1, requestsCut: 0, connectionsClosed: 2 }))
    gate.release()
    expect(await client.closed).toMatch(/^HTTP\/1\.1 200 [\s\S]*\{"tasks":\[\]\}$/)
    // Node's own close would wait for these until its headers timeout (60 s).
    expect(await closesSoon(Promise.all([silent.closed, halfHead.closed, closed]))).toBe('closed')
    expect(silent.received()).toBe('')
  })

  it('does not let a connection silent when the close began hold it with a request whose body never ends', async () => {
    const { server, gate, client } = await callInFlight('/getTasks/36')
    const late = rawConnection(server.url)
    await sleep(200)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('shutting down')))
    // An unknown route reads the body before it answers; this one never ends.
    late.write('POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": 1')
    await sleep(200)
    gate.release()
    expect(await client.closed).toMatch(/^HTTP\/1\.1 200 /)
    // Left alone it would hold the close for the request timeout.
    expect(await closesSoon(Promise.all([late.closed, closed]))).toBe('closed')
    expect(late.received()).toBe('')
  })

  it('answers a call pipelined behind one in flight when the close began, then closes the connection', async () => {
    // The gate holds back /healthz's reply too.
    const { server, gate, client } = await callInFlight('/getTasks/37', requestText('GET', '/healthz', { connection: 'keep-alive' }))
    await sleep(100)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('shutting down')))
    gate.release()
    await closed
    const received = await client.closed
    const heads = received.match(/HTTP\/1\.1 \d{3}[^]*?\r\n\r\n/g) ?? []
    expect(heads).toHaveLength(2)
    // The first reply keeps the connection for the call behind it.
    expect(heads[0]).not.toMatch(/connection: close/i)
    expect(received).toMatch(/^HTTP\/1\.1 200 [^]*\{"tasks":\[\]\}HTTP\/1\.1 200 [^]*\{"status":"ok"\}$/)
  })

  it('answers a call in flight when the close began, though a request whose body is still arriving is pipelined behind it', async () => {
    const { server, gate, client } = await callInFlight('/getTasks/38')
    client.write(UNFINISHED_CALL)
    await sleep(100)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('shutting down')))
    expect(logLines(server)).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 1, requestsCut: 0 }))
    gate.release()
    // Answered; then the connection goes, and the request behind it with it (nothing was done for it).
    expect(await closesSoon(Promise.all([client.closed, closed]))).toBe('closed')
    expect(await client.closed).toMatch(/^HTTP\/1\.1 200 [^]*\{"tasks":\[\]\}$/)
    expect(logLines(server)).toContainEqual(expect.objectContaining({ msg: 'shutting down: cut a request whose body was still arriving', requestsCut: 1 }))
  })

  it('answers the complete requests pipelined between a call in flight and one whose body is still arriving, then cuts that one', async () => {
    const { server, gate, slow, client } = await callInFlight('/getTasks/40', SLOW_CALL)
    client.write(UNFINISHED_CALL)
    await sleep(100)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('shutting down')))
    gate.release()
    // The call in flight is answered; the one behind it is still running.
    await eventually(() => client.received().includes('{"tasks":[]}'))
    await sleep(100)
    slow.release()
    expect(await closesSoon(Promise.all([client.closed, closed]))).toBe('closed')
    expect(await client.closed).toMatch(/^HTTP\/1\.1 200 [^]*\{"tasks":\[\]\}HTTP\/1\.1 200 [^]*\{"slow":true\}$/)
  })

  it('answers a pipelined request whose body arrives during the close, behind a call in flight, then closes the connection', async () => {
    const { server, gate, slow, client } = await callInFlight('/getTasks/39')
    client.write('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a": ')
    await sleep(100)
    const closed = server.close()
    await eventually(() => server.logs.some((l) => l.includes('shutting down')))
    client.write('1}')
    gate.release()
    // The call in flight is answered while the one behind it still runs.
    await eventually(() => client.received().includes('{"tasks":[]}'))
    await sleep(100)
    slow.release()
    // Keep-alive is 72 s: a close that waited for it would not finish here.
    expect(await closesSoon(Promise.all([client.closed, closed]))).toBe('closed')
    const heads = (await client.closed).match(/HTTP\/1\.1 \d{3}[^]*?\r\n\r\n/g) ?? []
    expect(heads).toHaveLength(2)
    expect(heads[0]).toMatch(/^HTTP\/1\.1 200 /)
    expect(heads[1]).toMatch(/^HTTP\/1\.1 200 [^]*\r\nconnection: close\r\n/i)
  })

  it('does not wait for a request pipelined behind a poll whose client left', async () => {
    const server = await build()
    // On Node 20 a response waiting for its turn never says 'close' when its client goes:
    // whatever tracks calls in flight must not wait for it.
    const client = pollWithCallBehind(server, '/getTasks/35', 20)
    await heldPollsBecome(server.app.relay, 1, 2000)
    client.destroy()
    await heldPollsBecome(server.app.relay, 0, 2000)
    const silent = rawConnection(server.url)
    await sleep(200)
    const closed = server.close()
    expect(await closesSoon(Promise.all([silent.closed, closed]))).toBe('closed')
    const lines = logLines(server)
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 0, requestsCut: 0, connectionsClosed: 1 }))
  })

  it('closes a keep-alive connection once its last response is out, instead of waiting out keep-alive', async () => {
    const gate = new ReplyGate()
    const server = await build({}, { beforeListen: (app) => gate.install(app) })
    // A held poll whose reply is still on its way (a last store round trip) when the server stops listening.
    // (A wait with a fraction is held by the routes, whose replies the gate can hold back.)
    const poll = keepAliveGet(server, '/getTasks/32?wait=29.5')
    await heldPollsBecome(server.app.relay, 1, 2000)
    gate.armed = true
    const closed = server.close()
    await eventually(() => gate.held > 0, { timeoutMs: 2000 })
    gate.release()
    // Keep-alive is 72 s: a close that waits for it does not finish here.
    expect(await closesSoon(closed)).toBe('closed')
    expect(await poll.response).toMatch(/^HTTP\/1\.1 200 [\s\S]*\{"tasks":\[\]\}$/)
  })
})

