/**
 * Lets a graceful close finish promptly. Node's server.close() waits for every
 * open connection; Fastify's forceCloseConnections: 'idle' drops the idle
 * keep-alive ones, but not a connection that was opened and never sent a
 * request (clients pre-connect, and keep such sockets for seconds). Nothing is
 * in flight on those, so closing them loses nothing.
 */
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function gracefulClose (app: FastifyInstance): Promise<void> {
  const silent = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    silent.add(socket)
    socket.once('close', () => silent.delete(socket))
  })
  app.server.on('request', (request) => silent.delete(request.socket))
  app.addHook('preClose', async () => {
    for (const socket of silent) socket.destroy()
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
