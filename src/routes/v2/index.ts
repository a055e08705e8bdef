/**
 * Version 2, verified identity (PROTOCOL.md, "Version 2"). Registered beside
 * v1 and apart from it: the v1 signature hook lives inside the v1 plugin and
 * never sees these routes. The identity services are decorated on the app
 * (`app.identity`) for the v2 calls still to come and for tests.
 *
 * Open calls: info, catalogue, session, webapp. The calls that act as a user
 * go inside the `requireSession` scope at the end.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import { createIdentity, type Identity } from '../../identity/identity.js'
import { requireSession } from './authenticate.js'
import catalogue from './catalogue.js'
import info from './info.js'
import session from './session.js'
import webapp from './webapp.js'

declare module 'fastify' {
  interface FastifyInstance {
    identity: Identity
  }
}

async function v2 (app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const identity = await createIdentity(config)
  app.decorate('identity', identity)
  app.addHook('onClose', async () => { await identity.seenOnce.close() })

  await app.register(async (scope) => {
    // The body parser defers JSON errors (v1 checks signatures first); v2 reports them here.
    scope.addHook('preValidation', (request: FastifyRequest, _reply, done) => { done(request.bodyError) })
    await scope.register(info, { config, identity })
    await scope.register(catalogue)
    await scope.register(session, { identity })
    await scope.register(webapp)
    await scope.register(async (authenticated) => {
      requireSession(authenticated, identity.tokens)
      // The calls that act as the token's user (requests, tasks, answers, results) come here.
    })
  })
}

export default fp(v2, { name: 'v2' })
