/**
 * Held calls answered straight from the relay's hold: the route's handler
 * (or the fast path, src/fast-path/task-polls.ts, for the task polls it holds)
 * starts the hold and returns nothing, and the hold sends the reply when it
 * ends. Nothing waits on a promise meanwhile: a held poll keeps no async
 * frame, promise or closure of the handler's (nor Fastify's wrap of one).
 *
 * The client leaving is seen on the response, not on the request: on Node 20
 * a request emits 'close' as soon as its body is read, so `request.signal`
 * and `request.raw.on('close')` fire early for calls with a body. The hold is
 * parked on its response under a symbol, and one 'close' listener, the same
 * function for every response, tells it (no AbortController per poll).
 *
 * A call pipelined behind another on its connection is not held: it looks
 * once and answers, as with no wait. Node hands the server every request it
 * reads at once, but their answers leave in order, so such a call cannot be
 * answered before the one ahead anyway; and only the call at the head of a
 * connection hears it close. Held, the calls of one connection could take
 * every place under MAX_HELD_POLLS_TOTAL and keep them after it closed, and
 * Node, which stops reading a connection whose queued answers pile up, would
 * read on, since a held call has written nothing.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { asError } from '../fast-path/handed-on.js'
import type { Held, Outcome } from '../relay/relay.js'

const HELD = Symbol('whatclient held call')

type Watched = ServerResponse & { [HELD]?: Held | undefined }

/** The response's 'close' listener (the same function for every response). */
function onResponseClose (this: Watched): void {
  if (!this.writableFinished) this[HELD]?.leave()
}

/**
 * Starts `held`, a hold made with an outcome from `replyWith` and this reply
 * as its context, watching for the client leaving until the hold answers.
 */
export function holdReply (reply: FastifyReply, held: Held): void {
  holdResponse(reply.raw, held)
}

/**
 * holdReply on a bare response (the fast path's held polls, src/fast-path):
 * starts `held`, telling it when the client leaves, until `unwatchResponse`.
 */
export function holdResponse (response: ServerResponse, held: Held): void {
  const watched = response as Watched
  watched[HELD] = held
  watched.on('close', onResponseClose)
  // A client gone before the hold began (an async hook ahead of the handler) closed its
  // response already: told now, its hold answers at once and never looks (a look may take an answer).
  if (response.req.socket.destroyed) held.leave()
  // A response waits for its connection while a call ahead of it on that connection is unanswered.
  held.start(response.socket === null)
}

/** Stops telling a hold about its client (it has answered). */
export function unwatchResponse (response: ServerResponse): void {
  const watched = response as Watched
  watched.removeListener('close', onResponseClose)
  watched[HELD] = undefined
}

/**
 * Stops watching. A hold that ended because the server closes answers with
 * `Connection: close`: its reply can leave after Node closed the idle
 * connections, and its own must not stay open for keep-alive either.
 */
function unwatch (reply: FastifyReply): void {
  unwatchResponse(reply.raw)
  if (reply.server.relay.isClosing()) void reply.header('connection', 'close')
}

/**
 * A route's outcome for its held calls (one per route, shared by its calls):
 * the hold's value sent as `payload(value)`, or its error sent as the error
 * reply, as an async handler's return or throw would be.
 */
export function replyWith<T> (payload: (value: T) => unknown): Outcome<T, FastifyReply> {
  return {
    answer (reply, value) {
      unwatch(reply)
      try {
        void reply.send(payload(value))
      } catch (error) {
        void reply.send(error)
      }
    },
    fail (reply, error) {
      unwatch(reply)
      void reply.send(asError(error))
    }
  }
}
