/**
 * `POST /v2/session`: Telegram Mini App init data in, a session token out.
 * Every check the contract names, then the single-use memory, then a token
 * bound to the init data's user, who is from then on shielded from the v1
 * key for as long as the token lives. Nothing here logs the init data, the
 * token or the user id.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { WC_ERR_INIT_DATA_REPLAYED, WC_ERR_SIGN_IN_UNCONFIGURED } from '../../errors.js'
import type { Identity } from '../../identity/identity.js'
import { MAX_INIT_DATA_LENGTH, type VerifiedInitData } from '../../identity/init-data.js'
import type { ServiceMetrics } from '../../metrics/metrics.js'
import type { Relay } from '../../relay/relay.js'
import { errorReplies, UserId } from './schemas.js'

const SessionBody = Type.Object({
  init_data: Type.String({ minLength: 1, maxLength: MAX_INIT_DATA_LENGTH, description: 'Mini App init data of the operator\'s bot, as Telegram gave it (tgWebAppData, URL-decoded once)' })
}, { additionalProperties: false })

const SessionReply = Type.Object({
  token: Type.String({ description: 'Send as Authorization: Bearer <token>. Opaque.' }),
  user_id: UserId,
  expires_at: Type.Integer({ description: 'Unix seconds' })
})

export interface SessionOptions {
  identity: Identity
  relay: Relay
  metrics: Pick<ServiceMetrics, 'signIn'>
}

/**
 * 503 without Retry-After, answered here rather than thrown: the error handler answers a
 * 5xx it does not list as 500, and one it lists with Retry-After, and waiting will not
 * configure sign-in.
 */
function unconfigured (reply: FastifyReply): FastifyReply {
  return reply.code(503).send({ detail: new WC_ERR_SIGN_IN_UNCONFIGURED().message })
}

const session: FastifyPluginAsyncTypebox<SessionOptions> = async (app, { identity, relay, metrics }) => {
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
      unconfigured(reply as FastifyReply)
    }
  }, async (request, reply) => {
    const verifier = identity.verifier
    if (verifier === undefined) return unconfigured(reply)
    let verified: VerifiedInitData
    try {
      verified = verifier.verify(request.body.init_data)
    } catch (err) {
      metrics.signIn('refused')
      throw err
    }
    const issued = identity.tokens.issue(verified.userId)
    // Shielded before the init data is spent: if marking fails (503), the client may retry
    // with the same init data. Marking for a replay only keeps a real user's shield up.
    await relay.markSignedIn(issued.userId, issued.expiresAt * 1000)
    if (!await identity.seenOnce.firstTime(verified.fingerprint, verified.freshForSeconds * 1000)) {
      metrics.signIn('refused')
      throw new WC_ERR_INIT_DATA_REPLAYED()
    }
    metrics.signIn('accepted')
    void reply.header('cache-control', 'no-store')
    return { token: issued.token, user_id: issued.userId, expires_at: issued.expiresAt }
  })
}

export default session
