/**
 * The ceiling for the idle-poll benchmark: a bare node:http server that does
 * only what an idle poll needs (check the v1 HMAC over the decoded path in
 * constant time) and answers the same JSON. No framework, no validation, no
 * logging, no store: what is left of our cost is what Fastify and we add.
 */
import { createServer } from 'node:http'
import { ceilingKey, hasSignedPath, refuseSignature } from './lib/bare-signature.js'

const key = ceilingKey()
const body = '{"tasks":[]}'

const server = createServer((req, res) => {
  if (!hasSignedPath(req, key)) return refuseSignature(res)
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }).end(body)
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => server.close(() => process.exit(0)))
