/**
 * `ask --timeout` bounds the whole command, not only the wait for the answer:
 * against a server that takes the connection and never answers, the ask
 * itself (and a v2 sign-in) ends at --timeout with status "timeout", exit 2,
 * rather than after every call's own time limit and retries.
 */
import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { listenOnLoopback } from '../helper.js'
import { runCli } from '../process-helper.js'

describe('ask --timeout against a server that never answers', () => {
  it.each([
    ['v1', ['--as', '111'], { WHATCLIENT_KEY: 'k' }],
    ['v2', [], { WHATCLIENT_INIT_DATA: 'init data' }]
  ])('%s: says timeout at about --timeout, exit 2', async (_name, args, env) => {
    const { url } = await listenOnLoopback(createServer(() => {}))
    const started = Date.now()
    const asking = runCli(['ask', '333', ...args, '--json', '--timeout', '2'], { WHATCLIENT_URL: url, ...env })
    expect(await asking.exited).toBe(2)
    expect(JSON.parse(asking.stdout())).toEqual({ status: 'timeout', target: 333 })
    // About 2 s, plus a node start; each call's own limit is 10 s.
    expect(Date.now() - started).toBeLessThan(8000)
  }, 20_000)
})
