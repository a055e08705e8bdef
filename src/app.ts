/**
 * The WhatClient server as a Fastify instance: HTTP limits, logging, the
 * signed-body parser, error shapes, API docs and routes. The process concerns
 * (settings, listen, signals) live in server.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Config } from './config.js'
import { bufferedStdout, loggingOptions, requestLine, summariseRequests } from './logging.js'
import { RequestStats } from './request-stats.js'
import { Metrics } from './metrics/metrics.js'
import errors from './plugins/errors.js'
import gracefulClose from './plugins/graceful-close.js'
import metricsPlugin from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import signedBody from './plugins/signed-body.js'
import { Relay } from './relay/relay.js'
import operations from './routes/operations.js'
import v1 from './routes/v1/index.js'
import v2 from './routes/v2/index.js'
import { createStore } from './store/create-store.js'
import type { TaskStore } from './store/task-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: Relay
  }
}

export interface BuildOptions {
  /** A store to use instead of the one the settings name (tests). */
  store?: TaskStore
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream
}

// Bodies are validated as sent (no "1" for 1, no true for 1); path and query
// strings are coerced, since they can only be strings.
const strictAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })
const coercingAjv = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false })

export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const stdout = options.logStream === undefined ? bufferedStdout() : undefined
  const stats = new RequestStats()
  const metrics = new Metrics()
  const app = Fastify({
    ...loggingOptions(config.logLevel, stats, options.logStream ?? stdout?.stream),
    bodyLimit: config.bodyLimitBytes,
    // A held long-poll must outlive its wait; slow-loris bodies must not.
    requestTimeout: (config.maxWaitSeconds + 30) * 1000,
    keepAliveTimeout: 72_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 256 },
    // Errors raised before routing (a path that is not valid percent-encoding): same shape as
    // the rest, and no echo of the URL.
    frameworkErrors: (error, request, reply: FastifyReply) => {
      reply.code(error.statusCode ?? 400)
      // Fastify's request-completed hook never sees these requests: count them here.
      stats.record(requestLine(request, reply, '(malformed)'))
      void reply.send({ detail: error.code === 'FST_ERR_BAD_URL' ? 'Malformed URL.' : 'Bad Request' })
    }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema))

  const summaries = summariseRequests(app.log, stats, config.logSummaryMs)
  const store = options.store ?? await createStore(config, app.log)
  const relay = new Relay(store)
  app.decorate('relay', relay)

  // Held polls answer at once when the server closes, instead of at their deadline.
  app.addHook('preClose', async () => { relay.close() })
  app.addHook('onClose', async () => {
    if (options.store === undefined) await store.close()
    summaries.close()
    stdout?.close()
  })

  await app.register(gracefulClose)
  await app.register(signedBody)
  await app.register(errors)
  await app.register(openapi)
  await app.register(metricsPlugin, { metrics, store, host: config.metricsHost, port: config.metricsPort })
  await app.register(operations, { store })
  if (config.v1Enabled) await app.register(v1, { relay, apiSecretKey: config.apiSecretKey, maxWaitSeconds: config.maxWaitSeconds })
  await app.register(v2, { config })
  return app
}
