/**
 * `GET /v2/requests/{request_id}?wait=S`: the caller's own request. Anyone
 * else's, and one made through v1, is `expired` (and stays for its owner).
 * A completed answer names the app (plain) or carries the sealed answer
 * only, which the asker opens; completed and declined are delivered once.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { displayName } from '../../catalogue/catalogue.js'
import type { Relay } from '../../relay/relay.js'
import type { VerifiedResult } from '../../store/task-store.js'
import { holdReply, replyWith } from '../held-reply.js'
import { callerOf } from './authenticate.js'
import { BEARER, errorReplies, RequestId, SealedAnswer, Wait } from './schemas.js'
import { holdMs } from '../wait.js'

const ResultParams = Type.Object({ request_id: RequestId })

const ResultReply = Type.Object({
  status: Type.Enum(['pending', 'completed', 'declined', 'expired']),
  client_name: Type.Optional(Type.String({ description: "The target app's display name (completed, plain requests)" })),
  package_name: Type.Optional(Type.String({ description: "The target app's package name (completed, plain requests)" })),
  sealed: Type.Optional(SealedAnswer),
  verified: Type.Optional(Type.Boolean({ description: 'Completed: answered through v2 by the signed-in target (false: through v1)' }))
})

function resultPayload (state: VerifiedResult): Static<typeof ResultReply> {
  if (state.status !== 'completed') return { status: state.status }
  const { answer, verified } = state
  if (answer.kind === 'sealed') return { status: 'completed', sealed: answer.sealed, verified }
  return { status: 'completed', client_name: displayName(answer.packageName), package_name: answer.packageName, verified }
}

const results: FastifyPluginAsyncTypebox<{ relay: Relay, maxWaitSeconds: number }> = async (app, { relay, maxWaitSeconds }) => {
  // Held calls are answered by their hold (routes/held-reply.ts): the handler returns nothing for them.
  const heldResult = replyWith(resultPayload)
  // No automatic HEAD: it would run the call (and consume a result) and answer nothing.
  app.get('/v2/requests/:request_id', {
    exposeHeadRoute: false,
    schema: {
      summary: "The answer to the signed-in user's request",
      description: 'pending; completed (plain: client_name, package_name, verified; sealed: sealed, verified), then deleted: delivered once; declined, also once; expired (unknown, expired, delivered, or not the caller\'s). With ?wait=S the call is held while the request is pending, up to S seconds.',
      tags: ['v2'],
      security: BEARER,
      params: ResultParams,
      querystring: Wait(maxWaitSeconds),
      response: { 200: ResultReply, ...errorReplies(401, 422, 429, 503) }
    }
  }, (request, reply) => {
    const waitMs = holdMs(request.query.wait, maxWaitSeconds)
    const userId = callerOf(request).userId
    if (waitMs <= 0) return relay.resultFor(userId, request.params.request_id).then(resultPayload)
    holdReply(reply, relay.holdOwnResult(userId, request.params.request_id, waitMs, heldResult, reply))
  })
}

export default results
