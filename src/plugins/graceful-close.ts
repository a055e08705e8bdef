/**
 * Lets a graceful close finish promptly and say what it waits for. Node's
 * server.close() waits for every open connection, and closes only the ones
 * idle at that instant. Left alone, a connection that was opened and never
 * used, one whose client has sent only part of a request, or a keep-alive one
 * whose last response went out after that instant, each hold the close until
 * a timeout (the request timeout, or 72 s of keep-alive), past
 * SHUTDOWN_TIMEOUT_SECONDS. So at close: requests whose body is still
 * arriving are cut (nothing has been done for them yet), the rest finish and
 * then lose their connection, and as soon as no request is in flight every
 * connection left is closed. Counts are logged, never which requests: no ids,
 * no addresses.
 *
 * Connections themselves are not tracked: Node's closeAllConnections()
 * reaches them all, and a set of the responses in progress says when nothing
 * is left that it would cut. Tracking each connection took a 'close' listener
 * on every socket, the third on a held poll's, for which V8 grows the
 * listener array from two slots to nineteen (about 130 bytes per held poll).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** How often shutdown says it is still waiting. */
const REPORT_EVERY_MS = 1000

async function gracefulClose (app: FastifyInstance): Promise<void> {
  // Entries leave on the response's 'close' (right after 'finish', or when the client goes
  // first): no request's headers (a bearer token) stay reachable from here once answered.
  const inProgress = new Set<ServerResponse>()
  let closing = false

  const inFlight = (): number => {
    let count = 0
    for (const response of inProgress) if (!response.writableFinished) count++
    return count
  }

  // Its client must not count on reusing the connection (a request it pipelined behind this
  // one is not answered: HTTP/1.1 has such clients send it again). Node closes the connection
  // after a response whose head says so; one whose head went out before is closed here.
  const closeWhenDone = (response: ServerResponse): void => {
    const socket = response.req.socket
    if (!response.headersSent) response.shouldKeepAlive = false
    response.once('finish', () => setImmediate(() => { socket.destroy() }))
  }

  function forget (this: ServerResponse): void {
    inProgress.delete(this)
    // The last request in flight is done: what is left is idle, never used, or holds part of a head.
    if (closing && inProgress.size === 0) app.server.closeAllConnections()
  }

  function track (response: ServerResponse): void {
    inProgress.add(response)
    response.on('close', forget)
    if (closing) closeWhenDone(response)
  }

  function trackOnItsTurn (this: ServerResponse): void {
    track(this)
  }

  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    // A request pipelined behind another gets the connection when that one is done, and is
    // tracked then: on Node 20 a response still waiting for its turn when its client leaves
    // never emits 'close', and would stay in the set for good.
    if (response.socket === null) response.once('socket', trackOnItsTurn)
    else track(response)
  })

  app.addHook('preClose', (done) => {
    closing = true
    app.server.getConnections((error, connections) => {
      let requestsCut = 0
      let waiting = 0
      const busy = new Set<Socket>()
      for (const response of inProgress) {
        const socket = response.req.socket
        if (response.writableFinished || socket.destroyed) continue
        busy.add(socket)
        if (!response.req.complete) {
          socket.destroy()
          requestsCut++
        } else {
          closeWhenDone(response)
          waiting++
        }
      }
      // Closed now, or as soon as the requests in flight are done.
      const idleConnections = error === null ? connections - busy.size : undefined
      if (inProgress.size === 0) app.server.closeAllConnections()
      app.log.info({ inFlight: waiting, requestsCut, idleConnections }, 'shutting down')
      if (waiting > 0) {
        const timer = setInterval(() => {
          const left = inFlight()
          if (left > 0) app.log.info({ inFlight: left }, 'shutting down: waiting for requests in flight')
        }, REPORT_EVERY_MS).unref()
        app.server.once('close', () => clearInterval(timer))
      }
      done()
    })
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
