/**
 * Version 2, verified identity (docs/protocol.md, "Version 2"). Registered beside
 * v1 and apart from it: the v1 signature hook lives inside the v1 plugin and
 * never sees these routes. The identity services are decorated on the app
 * (`app.identity`): the fast path checks task polls' tokens with them (app.ts).
 *
 * Open calls: info, catalogue, session, webapp. The calls that act as a user
 * (ask, tasks, answers, results) go inside the `requireSession` scope at the end.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import { createIdentity, type Identity } from '../../identity/identity.js'
import type { ServiceMetrics } from '../../metrics/metrics.js'
import type { TaskStore } from '../../store/task-store.js'
import { refuseWhileClosing } from '../refuse-while-closing.js'
import answers from './answers.js'
import ask from './ask.js'
import { requireSession } from './authenticate.js'
import catalogue from './catalogue.js'
import info from './info.js'
import results from './results.js'
import session from './session.js'
import tasks from './tasks.js'
import webapp from './webapp.js'

declare module 'fastify' {
  interface FastifyInstance {
    identity: Identity
  }
}

export interface V2Options {
  config: Config
  /** Where sign-ins are counted. */
  metrics: Pick<ServiceMetrics, 'signIn'>
  /** The relay's store: in Redis mode, sign-ins' single-use memory borrows its connection. */
  store: TaskStore
}

async function v2 (app: FastifyInstance, { config, metrics, store }: V2Options): Promise<void> {
  const identity = createIdentity(config, store)
  app.decorate('identity', identity)
  app.addHook('onClose', async () => { await identity.seenOnce.close() })
  const relay = app.relay
  const maxWaitSeconds = config.maxWaitSeconds

  await app.register(async (scope) => {
    refuseWhileClosing(scope, relay)
    // The body parser defers JSON errors (v1 checks signatures first); v2 reports them here.
    scope.addHook('preValidation', (request: FastifyRequest, _reply, done) => { done(request.bodyError) })
    await scope.register(info, { config, identity })
    await scope.register(catalogue)
    await scope.register(session, { identity, relay, metrics })
    await scope.register(webapp)
    await scope.register(async (authenticated) => {
      requireSession(authenticated, identity.tokens)
      await authenticated.register(ask, { relay })
      await authenticated.register(tasks, { relay, maxWaitSeconds })
      await authenticated.register(answers, { relay })
      await authenticated.register(results, { relay, maxWaitSeconds })
    })
  })
}

export default fp(v2, { name: 'v2' })
