import { createServer } from 'node:http'
import { Server } from 'node:net'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { build, eventually, listenOnLoopback, logLines, sleep, TEST_KEY, type TestServer } from './helper.js'

// No test can make the kernel refuse an accept on demand (libuv's spare descriptor absorbs
// running out of them), so the error is emitted as Node's net module emits it then.
const acceptFailed = (): NodeJS.ErrnoException => Object.assign(new Error('accept ENFILE'), { code: 'ENFILE', errno: -23, syscall: 'accept' })

const reports = (server: TestServer): Array<Record<string, unknown>> =>
  logLines(server).filter((line) => line.msg === 'could not accept a connection: serving on')

describe('a connection the kernel refuses to accept', () => {
  it('is logged, at most once a second with the count, and the server serves on', async () => {
    const server = await build()
    const port = (server.app.server.address() as { port: number }).port
    server.app.server.emit('error', acceptFailed())
    server.app.server.emit('error', acceptFailed())
    server.app.server.emit('error', acceptFailed())
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    expect(reports(server)).toEqual([expect.objectContaining({ level: 50, err: { code: 'ENFILE', syscall: 'accept' }, failures: 1 })])

    // The rest of the burst, once its second is over, though no failure follows.
    await eventually(() => reports(server).length === 2, { timeoutMs: 3000, message: 'the rest of the burst to be told' })
    expect(reports(server).map((line) => line.failures)).toEqual([1, 2])
    await sleep(1100)
    server.app.server.emit('error', acceptFailed())
    expect(reports(server).map((line) => line.failures)).toEqual([1, 2, 1])
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  })

  it('does not end the process through the metrics listener either', async () => {
    const server = await build({ METRICS_PORT: '0' })
    const port = server.app.metricsAddress()?.port
    // The listener's server is its own; Node lists it among the process's open handles.
    const handles = (process as unknown as { _getActiveHandles: () => unknown[] })._getActiveHandles()
    const metrics = handles.find((h): h is Server => h instanceof Server && (h.address() as { port?: number } | null)?.port === port)
    expect(metrics).toBeDefined()
    metrics?.emit('error', acceptFailed())
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200)
    expect(reports(server)).toHaveLength(1)
  })

  it('is not what a port already taken is reported as: that stops the start', async () => {
    const taken = new URL((await listenOnLoopback(createServer())).url).port
    const logs: string[] = []
    const logStream = new Writable({ write (chunk, _encoding, done) { logs.push(String(chunk)); done() } })
    const app = await buildApp(loadConfig({ API_SECRET_KEY: TEST_KEY, METRICS_PORT: taken }), { logStream })
    await expect(app.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(/METRICS_PORT=\d+: listen EADDRINUSE/)
    await app.close()
    expect(logs.join('')).not.toContain('could not accept')
  })
})
