/**
 * A bound on calls pipelined on one connection. HTTP/1.1 lets a client send
 * call after call without waiting for answers; Node hands the server each one
 * as soon as it reads it, and stops reading the connection only once answers
 * already made pile up unsent. Most calls cost a store call (in Redis mode a
 * round trip) before they have an answer, so one connection could put
 * thousands of store calls in flight at once and delay everyone's: three such
 * connections made an instance miss its Redis heartbeat (an attacker's
 * review). So a connection may have at most MAX_PIPELINED_CALLS calls waiting
 * behind the one being answered; one more closes it. Neither the plugin nor
 * the SDK pipelines, and a client that does while reading its answers stays
 * far below.
 *
 * The call being answered costs nothing here (one check): only calls queued
 * behind another are counted, each until it reaches the head of its
 * connection (Node then gives its response the socket).
 */
import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { wrapRequestListener, type RequestHandler } from './http-servers.js'

const QUEUED = Symbol('whatclient calls queued on this connection')

type Counted = Socket & { [QUEUED]?: number }

/** A queued response's 'socket' listener (the same function for every one): at the head now, it frees its place. */
function onHeadReached (this: ServerResponse, socket: Counted): void {
  socket[QUEUED] = (socket[QUEUED] ?? 1) - 1
}

/** `handler`, taking no call queued past `max` behind another on its connection: that connection is closed. */
export function limitPipelinedCalls (handler: RequestHandler, max: number): RequestHandler {
  return (request, response) => {
    // Node gives a response its socket once the answers ahead of it on the connection are done.
    if (response.socket !== null) return handler(request, response)
    const socket = request.socket as Counted
    const queued = (socket[QUEUED] ?? 0) + 1
    if (queued > max) {
      socket.destroy()
      return
    }
    socket[QUEUED] = queued
    // A connection that dies first takes its count with it.
    response.once('socket', onHeadReached)
    handler(request, response)
  }
}

/** Puts the bound in front of `server`'s one 'request' listener. */
export function installPipelineLimit (server: Server, max: number): void {
  wrapRequestListener(server, (handler) => limitPipelinedCalls(handler, max))
}
