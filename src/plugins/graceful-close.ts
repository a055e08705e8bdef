/**
 * Lets a graceful close finish promptly and say what it waits for. Node's
 * server.close() waits for every open connection, and closes only the ones
 * idle at that instant. Left alone, a connection that was opened and never
 * used, one whose client has sent only part of a request, or a keep-alive one
 * whose last response went out after that instant, each hold the close until
 * a timeout (the request timeout, or 72 s of keep-alive), past
 * SHUTDOWN_TIMEOUT_SECONDS. So at close: every connection with no response in
 * progress is closed, requests whose body is still arriving are cut (nothing
 * has been done for them yet; one pipelined behind requests in flight, once
 * those are answered), and the rest finish and then lose their connection.
 * Counts are logged, never which requests: no ids, no addresses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** The last request read on a connection, with its response, kept on the socket itself. */
const REQUEST = Symbol('whatclient exchange request')
const RESPONSE = Symbol('whatclient exchange response')
/** A response's socket (Node detaches it before 'finish' listeners run). */
const SOCKET = Symbol('whatclient exchange socket')

type Tracked = Socket & { [REQUEST]?: IncomingMessage | undefined, [RESPONSE]?: ServerResponse | undefined }
/** Node's own mark: the response that has the connection now (with pipelining, one before its last). */
type Writing = Socket & { _httpMessage?: ServerResponse | null }
type Answered = ServerResponse & { [SOCKET]?: Tracked | undefined }

/** How often shutdown says it is still waiting. */
const REPORT_EVERY_MS = 1000

const busy = (socket: Tracked): boolean => socket[RESPONSE] !== undefined && !(socket[RESPONSE] as ServerResponse).writableFinished

/** With pipelining: the unfinished response that has the connection now, when it is not its last one. */
function aheadOfLast (socket: Tracked): ServerResponse | undefined {
  const writing = (socket as Writing)._httpMessage
  return writing != null && writing !== socket[RESPONSE] && !writing.writableFinished ? writing : undefined
}

/**
 * Forgets a connection's exchange once answered: an idle keep-alive connection must not keep
 * its last request's headers (a bearer token) in memory until it closes. One listener for every
 * response (no closure per request: held polls keep theirs for the whole wait), on the
 * response's 'close', which Node emits right after 'finish' (and when the client goes first):
 * on 'finish' it was a third listener (Node's and Fastify's come first), and V8 grows a
 * listener array from two to nineteen slots for a third, about 120 bytes kept by every held poll.
 */
function forgetExchange (this: Answered): void {
  const socket = this[SOCKET]
  this[SOCKET] = undefined
  if (socket === undefined || socket[RESPONSE] !== this) return
  socket[REQUEST] = undefined
  socket[RESPONSE] = undefined
}

async function gracefulClose (app: FastifyInstance): Promise<void> {
  const connections = new Set<Tracked>()
  let closing = false

  const inFlight = (): number => [...connections].filter(busy).length

  // Once its response is out, a connection has nothing left to do: close it, unless the
  // client already sent another request (pipelined), which then runs and is refused the same way.
  const closeWhenDone = (socket: Tracked, response: ServerResponse): void => {
    // Its client must not count on reusing the connection: say so when the head goes out,
    // unless a request arrived behind it meanwhile (pipelined: that one is answered, and says it).
    if (!response.headersSent) {
      const writeHead = response.writeHead
      response.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        if (socket[RESPONSE] === this) this.shouldKeepAlive = false
        return writeHead.apply(this, args)
      } as ServerResponse['writeHead']
    }
    response.once('finish', () => setImmediate(() => {
      if (!connections.has(socket)) return
      if (!busy(socket)) {
        socket.destroy()
        return
      }
      // Pipelined behind it: the connection's last request, unanswered and its body still arriving.
      if (socket[REQUEST]?.complete !== false || socket[RESPONSE]?.writableEnded === true) return
      // Complete requests between the two are answered first (Node has given the connection
      // to the next one by now), then the last one is cut with the connection.
      const next = aheadOfLast(socket)
      if (next !== undefined) {
        closeWhenDone(socket, next)
        return
      }
      socket.destroy()
      app.log.info({ requestsCut: 1 }, 'shutting down: cut a request whose body was still arriving')
    }))
  }

  function forgetConnection (this: Tracked): void {
    connections.delete(this)
  }

  function track (socket: Tracked): void {
    connections.add(socket)
    socket.on('close', forgetConnection)
  }

  function onRequest (request: IncomingMessage, response: Answered): void {
    const socket = request.socket as Tracked
    if (connections.has(socket)) {
      socket[REQUEST] = request
      socket[RESPONSE] = response
      response[SOCKET] = socket
      response.on('close', forgetExchange)
    }
    if (closing) closeWhenDone(socket, response)
  }

  // Every server the app answers on (app.server, and localhost's other addresses).
  app.httpServers.each((server) => {
    server.on('connection', track)
    server.on('request', onRequest)
  })

  app.addHook('preClose', (done) => {
    closing = true
    let connectionsClosed = 0
    let requestsCut = 0
    let waiting = 0
    for (const socket of connections) {
      if (!busy(socket)) {
        // Never used, idle between requests, or holding only part of a next request's head.
        socket.destroy()
        connectionsClosed++
      } else if (socket[REQUEST]?.complete === false) {
        const writing = aheadOfLast(socket)
        if (writing !== undefined) {
          // A complete request in flight, with this one pipelined behind it: the first is
          // answered, then the connection goes (with this one, unless its body is in by then;
          // a reset can then lose the answer, if the client is still sending).
          closeWhenDone(socket, writing)
          closeWhenDone(socket, socket[RESPONSE] as ServerResponse)
          waiting++
        } else {
          socket.destroy()
          requestsCut++
        }
      } else {
        closeWhenDone(socket, socket[RESPONSE] as ServerResponse)
        waiting++
      }
    }
    app.log.info({ inFlight: waiting, requestsCut, connectionsClosed }, 'shutting down')
    if (waiting > 0) {
      // Until none is left: app.server may close before the other servers (http-servers.ts).
      const timer = setInterval(() => {
        const left = inFlight()
        if (left > 0) app.log.info({ inFlight: left }, 'shutting down: waiting for requests in flight')
        else clearInterval(timer)
      }, REPORT_EVERY_MS).unref()
    }
    done()
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
