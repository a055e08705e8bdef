/**
 * Answers for requests that never reach a route: HTTP that Node's parser
 * refuses, URLs the router cannot read, CONNECT, expectations we do not meet,
 * and HTTP/1.1 without Host. Left to Node and Fastify these answer in other
 * shapes (`{"error","message","statusCode"}`, or no body at all) and with
 * vague messages; here they get the one `{"detail"}` shape and say what was
 * wrong. Nothing of the request is echoed or logged: its bytes carry ids.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { WC_ERR_MISSING_HOST } from '../errors.js'
import { requestLine } from '../logging.js'
import type { RequestStats } from '../request-stats.js'

/** Node's parse errors carry llhttp's reason: a fixed text that names the rule broken, never request bytes. */
type ParseError = Error & { code?: string, reason?: unknown }

const REASON = /^[\x20-\x7e]{1,120}$/

/** The status and message for a request Node could not read. */
export function describeClientError (error: ParseError): [number, string] {
  const reason = typeof error.reason === 'string' && REASON.test(error.reason) ? error.reason.replace(/\.$/, '') : undefined
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': return [408, 'The request was not received in time.']
    case 'HPE_HEADER_OVERFLOW': return [431, 'The request line and headers are too large.']
    case 'HPE_INVALID_METHOD': return [400, 'Malformed HTTP request: unknown method.']
    case 'HPE_CR_EXPECTED':
    case 'HPE_LF_EXPECTED': return [400, 'Malformed HTTP request: lines must end with CRLF.']
  }
  if (reason !== undefined && /Content-Length/.test(reason) && /Transfer-Encoding/.test(reason)) {
    return [400, 'Malformed HTTP request: it has both Content-Length and Transfer-Encoding.']
  }
  if (reason !== undefined && /CRLF/.test(reason)) return [400, 'Malformed HTTP request: lines must end with CRLF.']
  return [400, reason === undefined ? 'Malformed HTTP request.' : `Malformed HTTP request: ${reason}.`]
}

/** A whole response written straight to the socket, which is then closed once it is sent. */
function answerOnSocket (socket: Socket, status: number, detail: string, headers = ''): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify({ detail })
  socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}Connection: close\r\n\r\n${body}`)
  socket.destroySoon()
}

/** Fastify's `clientErrorHandler`: requests Node's HTTP parser refused, or that timed out. */
export function clientErrorHandler (stats: RequestStats): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return (error, socket) => {
    // A reset connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const [status, detail] = describeClientError(error)
    stats.record('(unread)', '(malformed)', status, 0)
    answerOnSocket(socket, status, detail)
  }
}

const FRAMEWORK_ERRORS: Record<string, [number, string]> = {
  FST_ERR_BAD_URL: [400, 'Malformed URL.'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'The request path is too long.']
}

/** Fastify's `frameworkErrors`: a URL the router could not read. */
export function frameworkErrorHandler (stats: RequestStats): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const [status, detail] = FRAMEWORK_ERRORS[error.code] ?? [400, 'Malformed request.']
    reply.code(status)
    // Fastify's request-completed hook never sees these requests: count them here.
    const line = requestLine(request, reply, '(malformed)')
    stats.record(line.method, line.route, line.statusCode, line.ms)
    void reply.send({ detail })
  }
}

async function protocolErrors (app: FastifyInstance): Promise<void> {
  app.httpServers.each((server) => {
    // Node answers CONNECT only through this event, and drops the socket when nobody listens.
    server.on('connect', (_request, socket: Socket) => {
      answerOnSocket(socket, 405, 'CONNECT is not supported: this server is not a proxy.', 'Allow: \r\n')
    })
    // Without a listener Node answers 417 with no body.
    server.on('checkExpectation', (_request, response) => {
      const body = JSON.stringify({ detail: 'Expectation Failed: only "Expect: 100-continue" is supported.' })
      response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
      response.end(body)
    })
  })
  // HTTP/1.1 requires Host (RFC 9112 3.2); Node's own check answers 400 with no body, so it is off and done here.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') return done(new WC_ERR_MISSING_HOST())
    done()
  })
}

export default fp(protocolErrors, { name: 'protocol-errors' })
