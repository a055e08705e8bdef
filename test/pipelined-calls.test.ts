/**
 * The bound on pipelined calls (src/pipelined-calls.ts) in front of a bare
 * node:http server, where a call can be made slow at will: a call counts while
 * it waits behind another, and stops counting once it reaches the head of its
 * connection, answered or not yet. (Through the real app: test/routes/pipelined-polls.)
 */
import { createServer } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { installPipelineLimit } from '../src/pipelined-calls.js'
import { eventually, listenOnLoopback, rawConnection, requestText } from './helper.js'

const answers = (text: string): number => text.split('HTTP/1.1 ').length - 1
const get = (path: string): string => requestText('GET', path, { connection: 'keep-alive' })

let close: (() => Promise<void>) | undefined
afterEach(async () => { await close?.() })

/** A bare server behind a bound of `max`: `/slow` answers after 300 ms, anything else at once. */
async function bounded (max: number): Promise<string> {
  const server = createServer((request, response) => {
    const answer = (): void => { response.writeHead(200, { 'content-length': '2' }).end('ok') }
    if (request.url === '/slow') setTimeout(answer, 300)
    else answer()
  })
  installPipelineLimit(server, max)
  const listening = await listenOnLoopback(server)
  close = listening.close
  return listening.url
}

describe('the bound on calls queued behind the one being answered', () => {
  it('counts a call only while it waits behind another', async () => {
    const connection = rawConnection(await bounded(3))
    // /slow waits behind the first call, then is answered for 300 ms with two behind it.
    connection.write(get('/a') + get('/slow') + get('/b') + get('/c'))
    await eventually(() => answers(connection.received()) >= 1)
    // Three behind /slow now, the bound: served, not closed.
    connection.write(get('/d'))
    await eventually(() => answers(connection.received()) === 5, { timeoutMs: 5000 })
    connection.destroy()
  })

  it('closes a connection with one call more queued', async () => {
    const connection = rawConnection(await bounded(3))
    connection.write(get('/slow') + get('/a') + get('/b') + get('/c') + get('/d'))
    expect(answers(await connection.closed)).toBe(0)
  })
})
