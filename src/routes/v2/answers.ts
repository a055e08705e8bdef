/**
 * `POST /v2/answers`: the caller answers a question about them, with the
 * package name of their app (a plain request), a sealed answer (a sealed
 * request), or a decline. Any request that is not a pending question about
 * the caller answers the one 404, so nothing about other requests leaks;
 * sealed and plain never mix (422, told only to the request's target).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { WC_ERR_ANSWER_NOT_PLAIN, WC_ERR_ANSWER_NOT_SEALED, WC_ERR_ANSWER_SHAPE, WC_ERR_REQUEST_NOT_FOUND } from '../../errors.js'
import type { Relay } from '../../relay/relay.js'
import type { Answer } from '../../store/task-store.js'
import { callerOf } from './authenticate.js'
import { BEARER, errorReplies, PackageName, RequestId, SealedAnswer } from './schemas.js'

const AnswerBody = Type.Object({
  request_id: RequestId,
  package_name: Type.Optional(PackageName),
  sealed: Type.Optional(SealedAnswer),
  declined: Type.Optional(Type.Literal(true, { description: 'Decline to answer: the asker hears it at once' }))
}, { additionalProperties: false, description: 'request_id and exactly one of package_name (a plain request), sealed (a sealed request) or declined' })

const AnswerReply = Type.Object({ status: Type.Literal('success') })

const answers: FastifyPluginAsyncTypebox<{ relay: Relay }> = async (app, { relay }) => {
  app.post('/v2/answers', {
    schema: {
      summary: 'Answer a question about the signed-in user',
      description: '404 when the request is unknown, expired, already answered, or not a question about the caller (the same answer, so nothing leaks). 422 for a plain answer to a sealed request or a sealed one to a plain request. The same answer again within RETRY_GRACE_SECONDS answers 200 again.',
      tags: ['v2'],
      security: BEARER,
      body: AnswerBody,
      response: { 200: AnswerReply, ...errorReplies(400, 401, 404, 413, 415, 422, 503) }
    }
  }, async (request) => {
    const { request_id: requestId, package_name: packageName, sealed, declined } = request.body
    const given = [packageName, sealed, declined].filter((field) => field !== undefined).length
    if (given !== 1) throw new WC_ERR_ANSWER_SHAPE()
    const answer: Answer = packageName !== undefined
      ? { kind: 'plain', packageName }
      : sealed !== undefined ? { kind: 'sealed', sealed: { enc: sealed.enc, ciphertext: sealed.ciphertext } } : { kind: 'declined' }
    switch (await relay.answerAs(callerOf(request).userId, requestId, answer)) {
      case 'accepted': return { status: 'success' as const }
      case 'not_found': throw new WC_ERR_REQUEST_NOT_FOUND()
      case 'mismatch': throw answer.kind === 'plain' ? new WC_ERR_ANSWER_NOT_SEALED() : new WC_ERR_ANSWER_NOT_PLAIN()
    }
  })
}

export default answers
