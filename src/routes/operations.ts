/**
 * Unsigned operator endpoints: liveness (the process answers) and readiness
 * (the store can serve and the server is not closing).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Relay } from '../relay/relay.js'

const Status = Type.Object({ status: Type.String() })

const operations: FastifyPluginAsyncTypebox<{ relay: Relay }> = async (app, { relay }) => {
  app.get('/healthz', { schema: { summary: 'Liveness', response: { 200: Status } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { summary: 'Readiness: the store is reachable', response: { 200: Status, 503: Status } } }, async (_request, reply) => {
    if (relay.isClosing()) return reply.code(503).send({ status: 'closing' })
    if (!relay.isReady()) return reply.code(503).send({ status: 'store unavailable' })
    return { status: 'ready' }
  })
}

export default operations
