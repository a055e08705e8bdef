/**
 * `POST /v2/requests`: the caller asks which app `target_id` runs. Anonymous
 * unless they say `"anonymous": false`; sealed when they send a public key.
 * Asking again for the same target (and the same key, or none) while the
 * request is pending returns it again, and costs no quota.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Relay } from '../../relay/relay.js'
import { callerOf } from './authenticate.js'
import { BEARER, errorReplies, ExpiresAt, expiresAt, PublicKey, UserId } from './schemas.js'

const AskBody = Type.Object({
  target_id: UserId,
  anonymous: Type.Optional(Type.Boolean({ default: true, description: 'false: the target is told who asks (requester_id in their task)' })),
  public_key: Type.Optional(PublicKey)
}, { additionalProperties: false })

const AskReply = Type.Object({
  request_id: Type.String({ description: 'Read the answer with GET /v2/requests/{request_id}' }),
  expires_at: ExpiresAt
})

const ask: FastifyPluginAsyncTypebox<{ relay: Relay }> = async (app, { relay }) => {
  app.post('/v2/requests', {
    schema: {
      summary: 'Ask which app a user runs (as the signed-in user)',
      description: 'Asking again for the same target (with the same public_key, or none) while the request is pending returns the same request. 429 with Retry-After past ASK_LIMIT_PER_HOUR (seconds until the next ask fits) or when the target has too many pending questions (seconds until the oldest of them expires).',
      tags: ['v2'],
      security: BEARER,
      body: AskBody,
      response: { 200: AskReply, ...errorReplies(400, 401, 413, 415, 422, 429, 503) }
    }
  }, async (request) => {
    const { target_id: targetId, anonymous, public_key: publicKey } = request.body
    const asked = await relay.ask(callerOf(request).userId, targetId, { named: anonymous === false, publicKey })
    return { request_id: asked.requestId, expires_at: expiresAt(asked.expiresInMs) }
  })
}

export default ask
