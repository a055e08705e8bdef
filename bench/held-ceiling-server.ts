/**
 * The ceiling for the held-polls benchmark (scenario 4): a bare node:http
 * server that holds each signed `GET /getTasks/<id>?wait=<s>` until its user is
 * asked about (`POST /requestClient`, which answers that poll with one task),
 * and forgets a hold whose client leaves. No framework, no store, no timer per
 * hold: what holding a request costs Node's own HTTP server, measured in the
 * same run beside a held poll of ours. It does not answer a hold when its wait
 * runs out (scenario 4 ends well within the 120 s its polls ask for).
 *
 * `GET /memory` answers `process.memoryUsage()`'s heap figures, the ones the
 * WhatClient server's metrics listener exposes; started with `--expose-gc` and
 * bench/gc-on-signal.ts, SIGWINCH collects garbage first, as there.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { ceilingKey, signedPath } from './lib/bare-signature.js'

const key = ceilingKey()
const PREFIX = '/getTasks/'
const USER = Symbol('held user')
type Hold = ServerResponse & { [USER]?: string }
/** The held polls, by user id (one per user: a newer poll replaces an older one, which is left to its client). */
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
  if (!signedPath(req, key)) return json(res, 403, '{"detail":"Invalid signature."}')
  const url = req.url as string
  const q = url.indexOf('?')
  const user = url.slice(PREFIX.length, q === -1 ? url.length : q)
  if (q === -1) return json(res, 200, '{"tasks":[]}')
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
      target = (JSON.parse(body) as { target_id?: unknown }).target_id
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
    return json(res, 200, JSON.stringify({ heapUsed, heapTotal, external }))
  }
  json(res, 404, '{"detail":"Not Found"}')
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => {
  for (const res of held.values()) res.destroy()
  server.close(() => process.exit(0))
})
