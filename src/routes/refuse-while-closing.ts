/**
 * The refusal the API calls (v1 and v2 alike) get once the server begins to
 * close: 503 {detail} WC_ERR_SHUTTING_DOWN, with Retry-After (plugins/errors.ts)
 * and, as every reply then, Connection: close (plugins/graceful-close.ts), so
 * that its client tries again: another instance, or this one after its restart.
 */
import type { FastifyInstance } from 'fastify'
import { refusalFor } from '../fast-path/handed-on.js'
import type { Relay } from '../relay/relay.js'

/**
 * Makes the first hook of `scope`'s routes refuse a call that arrives (on a
 * connection still open) once `relay` is closing: the one moment the fast
 * path stops taking polls and /readyz says closing too. A poll the fast path
 * took before then and handed on is not refused (see refusalFor).
 */
export function refuseWhileClosing (scope: FastifyInstance, relay: Relay): void {
  // A callback hook, not an async one: it runs on every call.
  scope.addHook('onRequest', (request, _reply, done) => { done(refusalFor(request.raw, relay.isClosing())) })
}
