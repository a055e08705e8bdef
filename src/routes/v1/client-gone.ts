/**
 * An AbortSignal that fires when the client goes away before its reply is
 * written. It watches the response, not the request: on Node 20 a request
 * emits 'close' as soon as its body is read, so `request.signal` and
 * `request.raw.on('close')` fire early for calls with a body.
 *
 * A held poll keeps what it allocates here for its whole wait: one
 * AbortController, parked on its response under a symbol, and one listener
 * shared by every response, instead of closures per poll.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'

const CONTROLLER = Symbol('whatclient client gone')

type Watched = ServerResponse & { [CONTROLLER]?: AbortController | undefined }

/** The response's 'close' listener (the same function for every response). */
function onResponseClose (this: Watched): void {
  if (!this.writableFinished) this[CONTROLLER]?.abort()
}

/**
 * Watches for the client of a held call leaving: the signal fires if it goes
 * before its reply is written. Pair with `unwatchClient` in a `finally`. Not
 * a wrapper around the call: an async wrapper and the closure it would take
 * stay allocated for the whole hold, in every held poll.
 */
export function watchClient (reply: FastifyReply): AbortSignal {
  const response = reply.raw as Watched
  const controller = new AbortController()
  response[CONTROLLER] = controller
  response.on('close', onResponseClose)
  return controller.signal
}

/**
 * Stops watching. A hold that ended because the server closes answers with
 * `Connection: close`: its reply can leave after Node closed the idle
 * connections, and its own must not stay open for keep-alive either.
 */
export function unwatchClient (reply: FastifyReply): void {
  const response = reply.raw as Watched
  response.removeListener('close', onResponseClose)
  response[CONTROLLER] = undefined
  if (reply.server.relay.isClosing()) void reply.header('connection', 'close')
}
