/**
 * The ceiling for the held-polls benchmark (scenario 4): a bare node:http
 * server that holds each signed `GET /getTasks/<id>?wait=<s>` (s > 0) until
 * its user is asked about (`POST /requestClient`, which answers that poll with
 * one task), and forgets a hold whose client leaves. No framework, no store, no
 * timer per hold: what holding a request costs Node's own HTTP server, measured
 * in the same run beside a held poll of ours. It does not answer a hold when
 * its wait runs out (scenario 4 ends well within the 120 s its polls ask for).
 *
 * `GET /memory` answers `process.memoryUsage()`'s heap figures, the ones the
 * WhatClient server's metrics listener exposes, with how many polls it holds
 * and whether it can collect garbage: started with `--expose-gc` and
 * bench/gc-on-signal.ts, SIGWINCH collects garbage first, as there.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { ceilingKey, hasSignedPath, refuseSignature } from './lib/bare-signature.js'

const key = ceilingKey()
const PREFIX = '/getTasks/'
const NO_TASKS = '{"tasks":[]}'
const USER = Symbol('held user')
type Hold = ServerResponse & { [USER]?: string }
/** The held polls, by user id: one per user (a newer poll answers the older one empty, so none is left unanswered). */
const held = new Map<string, Hold>()

/** One listener shared by every hold, as the WhatClient server's is: no closure per poll. */
function forget (this: Hold): void {
  const user = this[USER] as string
  if (held.get(user) === this) held.delete(user)
}

function json (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
}

function hold (req: IncomingMessage, res: Hold): void {
  if (!hasSignedPath(req, key)) return refuseSignature(res)
  const url = req.url as string
  const q = url.indexOf('?')
  const user = url.slice(PREFIX.length, q === -1 ? url.length : q)
  const wait = q === -1 ? 0 : Number(new URLSearchParams(url.slice(q + 1)).get('wait'))
  if (!(wait > 0)) return json(res, 200, NO_TASKS)
  const older = held.get(user)
  if (older !== undefined) json(older, 200, NO_TASKS)
  res[USER] = user
  held.set(user, res)
  res.on('close', forget)
}

function ask (req: IncomingMessage, res: ServerResponse): void {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => { body += chunk })
  req.on('end', () => {
    let target: unknown
    try {
      target = (JSON.parse(body) as { target_id?: unknown } | null)?.target_id
    } catch {
      return json(res, 422, '{"detail":"Invalid JSON."}')
    }
    const poll = held.get(String(target))
    const requestId = randomUUID()
    if (poll !== undefined) {
      held.delete(String(target))
      json(poll, 200, `{"tasks":["${requestId}"]}`)
    }
    json(res, 200, `{"request_id":"${requestId}"}`)
  })
}

const server = createServer((req, res) => {
  const url = req.url ?? ''
  if (req.method === 'GET' && url.startsWith(PREFIX)) return hold(req, res)
  if (req.method === 'POST' && url === '/requestClient') return ask(req, res)
  if (req.method === 'GET' && url === '/memory') {
    const { heapUsed, heapTotal, external } = process.memoryUsage()
    const collects = typeof (globalThis as { gc?: unknown }).gc === 'function'
    return json(res, 200, JSON.stringify({ heapUsed, heapTotal, external, held: held.size, collects }))
  }
  json(res, 404, '{"detail":"Not Found"}')
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  // Held polls and any other open connection would keep close() waiting for ever.
  server.closeAllConnections()
})
