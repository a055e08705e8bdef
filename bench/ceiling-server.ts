/**
 * The ceiling for the idle-poll benchmark: a bare node:http server that does
 * only what an idle poll needs (check the v1 HMAC over the decoded path in
 * constant time) and answers the same JSON. No framework, no validation, no
 * logging, no store: what is left of our cost is what Fastify and we add.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

// A KeyObject, as the server's own check uses: from Node 22 an HMAC keyed with a plain
// Buffer costs several times more (3 vs 9-14 us per call measured here on Node 24.21,
// the same on Node 20), which would put the ceiling below the server it is meant to bound.
const key = createSecretKey(Buffer.from(process.env.API_SECRET_KEY ?? '', 'utf8'))
const body = '{"tasks":[]}'

const server = createServer((req, res) => {
  const url = req.url ?? ''
  const q = url.indexOf('?')
  const path = decodeURIComponent(q === -1 ? url : url.slice(0, q))
  const given = Buffer.from(String(req.headers['x-signature'] ?? ''), 'hex')
  const expected = createHmac('sha256', key).update(path).digest()
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.writeHead(403, { 'content-type': 'application/json' }).end('{"detail":"Invalid signature."}')
    return
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }).end(body)
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => server.close(() => process.exit(0)))
