/**
 * The four v1 calls, byte-compatible with the field server, every one signed.
 * The `wait` query on the two GET calls is the long-poll extension.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { displayName } from '../../catalogue/catalogue.js'
import type { HmacKey } from '../../crypto/hmac.js'
import { WC_ERR_REQUEST_NOT_FOUND } from '../../errors.js'
import { handedOnTasks } from '../../fast-path/handed-on.js'
import { requireSignature } from '../../plugins/signature.js'
import type { Relay } from '../../relay/relay.js'
import { refuseWhileClosing } from '../refuse-while-closing.js'
import { holdMs } from '../wait.js'
import { holdReply, replyWith } from '../held-reply.js'
import {
  errorReplies, RequestClientBody, RequestClientReply, ResultParams, ResultReply, SIGNED,
  SubmitBody, SubmitReply, TasksParams, TasksReply, Wait
} from './schemas.js'

export interface V1Options {
  relay: Relay
  /** API_SECRET_KEY, ready for the signature check. */
  key: HmacKey
  maxWaitSeconds: number
}

type ResultState = Awaited<ReturnType<Relay['resultOf']>>

const tasksPayload = (tasks: string[]): { tasks: string[] } => ({ tasks })

function resultPayload (state: ResultState): { status: ResultState['status'] } | { status: 'completed', client_name: string, package_name: string } {
  if (state.status !== 'completed') return { status: state.status }
  return { status: 'completed', client_name: displayName(state.packageName), package_name: state.packageName }
}

const v1: FastifyPluginAsyncTypebox<V1Options> = async (app, { relay, key, maxWaitSeconds }) => {
  refuseWhileClosing(app, relay)
  requireSignature(app, key)
  const WaitQuery = Wait(maxWaitSeconds)
  // Held calls are answered by their hold (routes/held-reply.ts): their handlers return nothing.
  const heldTasks = replyWith(tasksPayload)
  const heldResult = replyWith(resultPayload)

  app.post('/requestClient', {
    schema: {
      summary: 'Ask which client a user runs',
      description: 'Opens a request that lives REQUEST_TTL_SECONDS. The same requester asking again about the same target while one is pending gets the same request id; other requesters get their own. Signed over the raw body.',
      security: SIGNED,
      body: RequestClientBody,
      response: { 200: RequestClientReply, ...errorReplies(403, 413, 415, 422, 429, 503) }
    }
  }, async (request) => {
    const { requestId } = await relay.createRequest(request.body.requester_id, request.body.target_id)
    return { request_id: requestId }
  })

  // No automatic HEAD: it would run the call (and consume a result) and answer nothing.
  app.get('/getTasks/:user_id', {
    exposeHeadRoute: false,
    schema: {
      summary: "List a user's pending tasks",
      description: 'Request ids whose target is user_id, oldest first. With ?wait=S the call is held until there is a task, or S seconds pass. Signed over the path without the query.',
      security: SIGNED,
      params: TasksParams,
      querystring: WaitQuery,
      response: { 200: TasksReply, ...errorReplies(403, 422, 429, 503) }
    }
  }, (request, reply) => {
    const waitMs = holdMs(request.query.wait, maxWaitSeconds)
    if (waitMs <= 0) {
      // The tasks the fast path found before it handed the poll on (held or not): answered as found.
      const found = handedOnTasks(request.raw, 'v1')
      if (found !== undefined) return Promise.resolve(tasksPayload(found))
      // The idle poll (no wait) is the busiest call of all: straight to the store, no closure.
      return relay.tasksFor(request.params.user_id).then(tasksPayload)
    }
    holdReply(reply, relay.holdTasks(request.params.user_id, waitMs, heldTasks, reply))
  })

  app.post('/submitTaskResult', {
    schema: {
      summary: 'Answer a task with the Android package name',
      description: 'client_name carries the package name of the app the target runs. 404 when the request is unknown, expired or already answered. Signed over the raw body.',
      security: SIGNED,
      body: SubmitBody,
      response: { 200: SubmitReply, ...errorReplies(403, 404, 413, 415, 422, 503) }
    }
  }, async (request) => {
    const accepted = await relay.submitAnswer(request.body.request_id, request.body.client_name)
    if (!accepted) throw new WC_ERR_REQUEST_NOT_FOUND()
    return { status: 'success' as const }
  })

  app.get('/getRequestResult/:request_id', {
    exposeHeadRoute: false,
    schema: {
      summary: 'Read the answer to a request',
      description: 'pending, completed (then the request is deleted: the result is delivered once), or expired (unknown, expired or already delivered). With ?wait=S the call is held while the request is pending, up to S seconds. Signed over the path without the query.',
      security: SIGNED,
      params: ResultParams,
      querystring: WaitQuery,
      response: { 200: ResultReply, ...errorReplies(403, 422, 429, 503) }
    }
  }, (request, reply) => {
    const waitMs = holdMs(request.query.wait, maxWaitSeconds)
    if (waitMs <= 0) return relay.resultOf(request.params.request_id).then(resultPayload)
    holdReply(reply, relay.holdResult(request.params.request_id, waitMs, heldResult, reply))
  })
}

export default v1
