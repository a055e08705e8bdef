/**
 * Lets a graceful close finish promptly and say what it waits for. Node's
 * server.close() waits for every open connection, and closes only the ones
 * idle at that instant. Left alone, a connection that was opened and never
 * used, one whose client has sent only part of a request, or a keep-alive one
 * whose last response went out after that instant, each hold the close until
 * a timeout (the request timeout, or 72 s of keep-alive), past
 * SHUTDOWN_TIMEOUT_SECONDS. So at close: every connection with no response in
 * progress is closed, requests whose body is still arriving are cut (nothing
 * has been done for them yet), and the rest finish and then lose their
 * connection. Counts are logged, never which requests: no ids, no addresses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** The last request read on a connection, with its response. */
interface Exchange {
  request?: IncomingMessage
  response?: ServerResponse
}

/** How often shutdown says it is still waiting. */
const REPORT_EVERY_MS = 1000

async function gracefulClose (app: FastifyInstance): Promise<void> {
  const connections = new Map<Socket, Exchange>()
  let closing = false

  const busy = (exchange: Exchange): boolean => exchange.response !== undefined && !exchange.response.writableFinished
  const inFlight = (): number => [...connections.values()].filter(busy).length

  // Once its response is out, a connection has nothing left to do: close it, unless the
  // client already sent another request (pipelined), which then runs and is refused the same way.
  const closeWhenDone = (socket: Socket, response: ServerResponse): void => {
    response.once('finish', () => setImmediate(() => {
      const exchange = connections.get(socket)
      if (exchange !== undefined && !busy(exchange)) socket.destroy()
    }))
  }

  app.server.on('connection', (socket: Socket) => {
    connections.set(socket, {})
    socket.once('close', () => connections.delete(socket))
  })
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const exchange = connections.get(request.socket)
    if (exchange !== undefined) {
      exchange.request = request
      exchange.response = response
      // Forgotten once answered: an idle keep-alive connection must not keep its last
      // request's headers (a bearer token) in memory until it closes.
      response.once('finish', () => {
        if (exchange.response !== response) return
        exchange.request = undefined
        exchange.response = undefined
      })
    }
    if (closing) closeWhenDone(request.socket, response)
  })

  app.addHook('preClose', (done) => {
    closing = true
    let connectionsClosed = 0
    let requestsCut = 0
    let waiting = 0
    for (const [socket, exchange] of connections) {
      if (!busy(exchange)) {
        // Never used, idle between requests, or holding only part of a next request's head.
        socket.destroy()
        connectionsClosed++
      } else if (exchange.request?.complete === false) {
        socket.destroy()
        requestsCut++
      } else {
        closeWhenDone(socket, exchange.response as ServerResponse)
        waiting++
      }
    }
    app.log.info({ inFlight: waiting, requestsCut, connectionsClosed }, 'shutting down')
    if (waiting > 0) {
      const timer = setInterval(() => {
        const left = inFlight()
        if (left > 0) app.log.info({ inFlight: left }, 'shutting down: waiting for requests in flight')
      }, REPORT_EVERY_MS).unref()
      app.server.once('close', () => clearInterval(timer))
    }
    done()
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
