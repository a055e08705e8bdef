/**
 * The ceiling for the idle-poll benchmark: a bare node:http server that does
 * only what an idle poll needs (check the v1 HMAC over the decoded path in
 * constant time) and answers the same JSON. No framework, no validation, no
 * logging, no store: what is left of our cost is what Fastify and we add.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

const key = Buffer.from(process.env.API_SECRET_KEY ?? '', 'utf8')
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
