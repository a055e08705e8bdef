/**
 * Lets a graceful close finish promptly and say what it waits for. Node's
 * server.close() waits for every open connection, and closes only the ones
 * idle at that instant. Left alone, a connection that was opened and never
 * used, one whose client has sent only part of a request, or a keep-alive one
 * whose last response went out after that instant, each hold the close until
 * a timeout (the request timeout, or 72 s of keep-alive), past
 * SHUTDOWN_TIMEOUT_SECONDS. So at close: requests whose body is still
 * arriving are cut (nothing has been done for them yet), the rest finish and
 * then lose their connection (a call pipelined behind one of them is answered
 * first, and says so too), and once no request is left in flight every other
 * connection is closed: never used, idle, or holding part of a head. Counts
 * are logged, never which requests: no ids, no addresses.
 *
 * Connections are not tracked one by one, only the responses in progress:
 * Node's closeAllConnections() reaches the rest. A set of every connection
 * took a 'close' listener on each socket, the third on a held poll's, for
 * which V8 grows the listener array from two slots to nineteen, and the
 * socket's properties for its current exchange: 110-290 bytes of heap per
 * held poll (BENCHMARKS.md §20).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** On a connection that pipelines: its last response still waiting for its turn. */
const QUEUED = Symbol('whatclient queued response')
/** While closing: the response to the last request read on the connection. */
const LAST = Symbol('whatclient last response')

type Connection = Socket & { [QUEUED]?: ServerResponse | undefined, [LAST]?: ServerResponse | undefined }

/** How often shutdown says it is still waiting, and cuts requests that have only a body left to wait for. */
const REPORT_EVERY_MS = 1000

async function gracefulClose (app: FastifyInstance): Promise<void> {
  // Responses that have their connection, until their 'close' (right after 'finish', or when
  // the client goes first): no request's headers (a bearer token) stay reachable once answered.
  const inProgress = new Set<ServerResponse>()
  let closing = false

  // Once its response is out, a connection has nothing left to do: close it, unless the client
  // already sent another request (pipelined), which then runs and is refused the same way.
  const closeWhenDone = (socket: Connection, response: ServerResponse): void => {
    // Set already when the request came during the close, or the close began while it was in flight.
    socket[LAST] ??= socket[QUEUED] ?? response
    // Its client must not count on reusing the connection: say so when the head goes out,
    // unless a request arrived behind it meanwhile (that one says it).
    if (!response.headersSent) {
      const writeHead = response.writeHead
      response.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        if (socket[LAST] === this) this.shouldKeepAlive = false
        return writeHead.apply(this, args)
      } as ServerResponse['writeHead']
    }
    response.once('finish', () => setImmediate(() => {
      if ((socket[LAST] as ServerResponse).writableFinished) socket.destroy()
    }))
  }

  function forget (this: ServerResponse): void {
    inProgress.delete(this)
    // The last request in flight is done: what is left is idle, never used, or holds part of a head.
    if (closing && inProgress.size === 0) app.server.closeAllConnections()
  }

  function track (response: ServerResponse): void {
    inProgress.add(response)
    response.on('close', forget)
    if (closing) closeWhenDone(response.req.socket, response)
  }

  // A pipelined request's response gets the connection when the one ahead is done, and is
  // tracked then: on Node 20 a response still waiting for its turn when its client leaves
  // never emits 'close', and would stay in the set for good.
  function onItsTurn (this: ServerResponse): void {
    const socket = this.req.socket as Connection
    if (socket[QUEUED] === this) socket[QUEUED] = undefined
    track(this)
  }

  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket as Connection
    if (closing) socket[LAST] = response
    if (response.socket === null) {
      socket[QUEUED] = response
      response.once('socket', onItsTurn)
    } else {
      track(response)
    }
  })

  /** Requests in flight whose body has all arrived (the close waits for these). */
  const waitedFor = (): number => {
    let count = 0
    for (const response of inProgress) if (!response.writableFinished && response.req.complete) count++
    return count
  }

  app.addHook('preClose', (done) => {
    closing = true
    app.server.getConnections((error, connections) => {
      let requestsCut = 0
      let waiting = 0
      const busy = new Set<Socket>()
      for (const response of inProgress) {
        const socket = response.req.socket as Connection
        if (response.writableFinished || socket.destroyed) continue
        busy.add(socket)
        const last = socket[QUEUED] ?? response
        socket[LAST] = last
        if (!last.req.complete) {
          socket.destroy()
          requestsCut++
        } else {
          closeWhenDone(socket, response)
          waiting++
        }
      }
      // Closed now, or as soon as the requests in flight are done.
      const connectionsClosed = error === null ? connections - busy.size : undefined
      if (inProgress.size === 0) app.server.closeAllConnections()
      app.log.info({ inFlight: waiting, requestsCut, connectionsClosed }, 'shutting down')
      const timer = setInterval(() => {
        const left = waitedFor()
        if (left > 0) app.log.info({ inFlight: left }, 'shutting down: waiting for requests in flight')
        // A request begun during the close whose body is still arriving: nothing was done for it yet.
        else if (inProgress.size > 0) app.server.closeAllConnections()
      }, REPORT_EVERY_MS).unref()
      app.server.once('close', () => clearInterval(timer))
      done()
    })
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
