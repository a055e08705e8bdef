import { spawn } from 'node:child_process'
import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer, userIdArgs } from '../helper.js'
import { CLI, ROOT, runCli, wrap } from '../process-helper.js'
import { standIn } from './stand-in.js'

let server: TestServer
const user = userIdArgs()

// Requests live 3 s here, so that expiry comes quickly; `ask --ttl 3` knows it.
beforeAll(async () => { server = await build({ REQUEST_TTL_SECONDS: '3' }) })

/** Runs the CLI on a real pseudo-terminal (python3's pty module): what a user at a terminal sees, bytes and all. */
function runOnTerminal (args: string[], env: Record<string, string>): ReturnType<typeof wrap> {
  const child = spawn('python3', ['-c', 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))', process.execPath, CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }
  })
  return wrap(child)
}

describe('ask shows that it is alive and when the request expires', () => {
  it('says at once that it is asking, before the server has answered', async () => {
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    const slow = await standIn(async (method, path) => {
      if (method === 'POST') {
        await held
        return { body: { request_id: 'r1' } }
      }
      return { body: path.startsWith('/getRequestResult/') ? { status: 'completed', client_name: 'exteraGram' } : {} }
    })
    try {
      const asking = runCli(['ask', '2', '--as', '1'], { WHATCLIENT_URL: slow.url, WHATCLIENT_KEY: 'k' })
      await asking.waitFor(new RegExp(`Asking ${slow.url} which app 2 uses`))
      await expect.poll(() => slow.calls).toEqual(['POST /requestClient'])
      expect(asking.stdout()).toBe('')
      release()
      expect(await asking.exited).toBe(0)
      expect(asking.stdout()).toBe('2 uses exteraGram\n')
    } finally {
      release()
      await slow.close()
    }
  })

  it('without a terminal: says when the request expires, then plain progress lines, then that it expired', async () => {
    const asking = runCli(['ask', user(), '--as', user(), '--ttl', '3'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    expect(await asking.exited).toBe(2)
    const lines = asking.stderr().split('\n')
    expect(lines[0]).toMatch(/^Asking http:\/\/127\.0\.0\.1:\d+ which app \d+ uses\.\.\.$/)
    expect(lines[1]).toMatch(/^Asked \d+; the request expires in 0:03, by \d\d:\d\d:\d\d at the latest$/)
    expect(lines.filter((line) => /^Waiting for \d+ to answer: the request expires in 0:0\d$/.test(line)).length).toBeGreaterThanOrEqual(2)
    expect(asking.stderr()).not.toMatch(/[\r\x1b]/)
    expect(asking.stdout()).toMatch(/^No answer from \d+ before the request expired: they are offline, have no WhatClient, or do not answer\.\n$/)
  })

  it('on a terminal: one status line counting down, rewritten in place, erased at the end', async () => {
    const target = user()
    const asking = runOnTerminal(['ask', target, '--as', user(), '--ttl', '3'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    expect(await asking.exited).toBe(2)
    const screen = asking.stdout()
    const rewrites = [...screen.matchAll(new RegExp(`\\r\\x1b\\[2KWaiting for ${target} to answer: the request expires in (0:0\\d)`, 'g'))].map((m) => m[1])
    // A pty may merge writes, but a countdown over about 3 s shows at least two values.
    expect(new Set(rewrites).size).toBeGreaterThanOrEqual(2)
    expect(screen).toMatch(new RegExp(`\\r\\x1b\\[2KAsked ${target}; the request expires in 0:03, by \\d\\d:\\d\\d:\\d\\d at the latest\\r\\n`))
    // The status line is erased before the result, so that the result stands alone on its line.
    expect(screen).toMatch(new RegExp(`\\r\\x1b\\[2KNo answer from ${target} before the request expired[^\\r\\n]*\\r\\n$`))
  })

  it('tells "timed out" (--timeout) and "expired" apart, in words and in JSON', async () => {
    const env = { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key }
    // Well under the 3 s requests live here, and long enough for a loaded machine to confirm the question first.
    const timedOut = runCli(['ask', user(), '--as', user(), '--timeout', '1.5', '--ttl', '3'], env)
    const expired = runCli(['ask', user(), '--as', user(), '--ttl', '3'], env)
    const timedOutJson = runCli(['ask', user(), '--as', user(), '--timeout', '1.5', '--json'], env)
    const expiredJson = runCli(['ask', user(), '--as', user(), '--json', '--ttl', '3'], env)
    expect(await Promise.all([timedOut.exited, expired.exited, timedOutJson.exited, expiredJson.exited])).toEqual([2, 2, 2, 2])
    expect(timedOut.stdout()).toMatch(/^No answer from \d+ within 1\.5 s \(--timeout\)\. The request stays open until \d\d:\d\d:\d\d at the latest/)
    expect(expired.stdout()).toMatch(/before the request expired/)

    expect(JSON.parse(timedOutJson.stdout())).toMatchObject({ status: 'timeout' })
    expect(JSON.parse(expiredJson.stdout())).toEqual({ status: 'expired', target: expect.any(Number), ended_early: false })
    expect(timedOutJson.stderr() + expiredJson.stderr()).toBe('')
  })

  it('refuses a --ttl that is not a positive number of seconds', async () => {
    const asking = runCli(['ask', '2', '--as', '1', '--ttl', 'Infinity'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    expect(await asking.exited).toBe(1)
    expect(asking.stderr()).toMatch(/--ttl must be a positive number of seconds/)
  })
})
