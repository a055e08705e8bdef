/**
 * `GET /v2/tasks?wait=S`: the pending questions about the caller, v1 and v2
 * ones alike, oldest first. Long-polls as v1's getTasks does, on the same
 * topic, so a question asked either way wakes it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { handedOnTasks } from '../../fast-path/handed-on.js'
import type { Relay } from '../../relay/relay.js'
import type { Task as PendingTask } from '../../store/task-store.js'
import { holdReply, replyWith } from '../held-reply.js'
import { callerOf } from './authenticate.js'
import { BEARER, errorReplies, ExpiresAt, expiresAt, PublicKey, UserId, Wait } from './schemas.js'
import { holdMs } from '../wait.js'

const Task = Type.Object({
  request_id: Type.String(),
  requester_id: Type.Union([UserId, Type.Null()], { description: 'Who asks, only when they asked through v2 and chose to be named; else null' }),
  verified: Type.Boolean({ description: 'Asked through v2 by a signed-in user (false: through v1, whose requester id is only claimed)' }),
  expires_at: ExpiresAt,
  public_key: Type.Optional({ ...PublicKey, description: 'Sealed requests only: seal the answer to this key' })
})

const TasksReply = Type.Object({ tasks: Type.Array(Task, { description: 'Oldest first' }) })

function tasksPayload (found: PendingTask[]): Static<typeof TasksReply> {
  return {
    tasks: found.length === 0 ? [] : found.map((task) => ({
      request_id: task.requestId,
      requester_id: task.requesterId,
      verified: task.verified,
      expires_at: expiresAt(task.expiresInMs),
      public_key: task.publicKey
    }))
  }
}

const tasks: FastifyPluginAsyncTypebox<{ relay: Relay, maxWaitSeconds: number }> = async (app, { relay, maxWaitSeconds }) => {
  // Held calls are answered by their hold (routes/held-reply.ts): the handler returns nothing for them.
  const heldTasks = replyWith(tasksPayload)
  // No automatic HEAD: it would run the call and answer nothing.
  app.get('/v2/tasks', {
    exposeHeadRoute: false,
    schema: {
      summary: 'The questions about the signed-in user',
      description: 'With ?wait=S the call is held until there is a question, or S seconds pass.',
      tags: ['v2'],
      security: BEARER,
      querystring: Wait(maxWaitSeconds),
      response: { 200: TasksReply, ...errorReplies(401, 422, 429, 503) }
    }
  }, (request, reply) => {
    const waitMs = holdMs(request.query.wait, maxWaitSeconds)
    const caller = callerOf(request)
    if (waitMs <= 0) {
      // The tasks the fast path found before it handed the poll on (held or not): answered as found.
      const found = handedOnTasks(request.raw, 'v2')
      return found !== undefined ? Promise.resolve(tasksPayload(found)) : relay.inbox(caller).then(tasksPayload)
    }
    holdReply(reply, relay.holdInbox(caller, waitMs, heldTasks, reply))
  })
}

export default tasks
