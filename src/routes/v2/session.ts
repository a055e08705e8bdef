/**
 * `POST /v2/session`: Telegram Mini App init data in, a session token out.
 * Every check the contract names, then the single-use memory, then a token
 * bound to the init data's user. Nothing here logs the init data, the token
 * or the user id.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { WC_ERR_INIT_DATA_REPLAYED, WC_ERR_SIGN_IN_UNCONFIGURED } from '../../errors.js'
import type { Identity } from '../../identity/identity.js'
import { MAX_INIT_DATA_LENGTH } from '../../identity/init-data.js'
import { errorReplies, UserId } from './schemas.js'

const SessionBody = Type.Object({
  init_data: Type.String({ minLength: 1, maxLength: MAX_INIT_DATA_LENGTH, description: 'Mini App init data of the operator\'s bot, as Telegram gave it (tgWebAppData, URL-decoded once)' })
})
const SessionReply = Type.Object({
  token: Type.String({ description: 'Send as Authorization: Bearer <token>. Opaque.' }),
  user_id: UserId,
  expires_at: Type.Integer({ description: 'Unix seconds' })
})

const session: FastifyPluginAsyncTypebox<{ identity: Identity }> = async (app, { identity }) => {
  app.post('/v2/session', {
    schema: {
      summary: 'Sign in with Telegram Mini App init data',
      description: '401 when the init data fails any check (bad hash or signature, stale, from the future, replayed, no user); 503 when sign-in is not configured.',
      tags: ['v2'],
      body: SessionBody,
      response: { 200: SessionReply, ...errorReplies(401, 413, 415, 422, 503) }
    },
    // Before the body is validated: a server that cannot sign anyone in says so to every caller.
    onRequest: (_request, reply, done) => {
      if (identity.verifier !== undefined) return done()
      // Sent here rather than thrown: the error handler would add Retry-After, and waiting will not configure it.
      void (reply as FastifyReply).code(503).send({ detail: new WC_ERR_SIGN_IN_UNCONFIGURED().message })
    }
  }, async (request, reply) => {
    const verifier = identity.verifier
    if (verifier === undefined) throw new WC_ERR_SIGN_IN_UNCONFIGURED()
    const verified = verifier.verify(request.body.init_data)
    if (!await identity.seenOnce.firstTime(verified.fingerprint, verified.freshForSeconds * 1000)) {
      throw new WC_ERR_INIT_DATA_REPLAYED()
    }
    const issued = identity.tokens.issue(verified.userId)
    void reply.header('cache-control', 'no-store')
    return { token: issued.token, user_id: issued.userId, expires_at: issued.expiresAt }
  })
}

export default session
