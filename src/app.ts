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
import errors from './plugins/errors.js'
import gracefulClose from './plugins/graceful-close.js'
import openapi from './plugins/openapi.js'
import signedBody from './plugins/signed-body.js'
import { Relay } from './relay/relay.js'
import operations from './routes/operations.js'
import v1 from './routes/v1/index.js'
import { createStore } from './store/create-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: Relay
  }
}

export interface BuildOptions {
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
  const relay = await Relay.open((listener) => createStore(config, listener, app.log),
    { maxPerKey: config.maxHeldPollsPerUser, maxTotal: config.maxHeldPollsTotal })
  app.decorate('relay', relay)

  // Held polls answer at once when the server closes, instead of at their deadline. Their
  // replies can leave after Node has closed the idle connections (a last store call takes a
  // Redis round trip): those connections must not stay open for keep-alive.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    relay.releaseHolds()
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onClose', async () => {
    await relay.close()
    summaries.close()
    stdout?.close()
  })

  await app.register(gracefulClose)
  await app.register(signedBody)
  await app.register(errors)
  await app.register(openapi)
  await app.register(operations, { relay })
  await app.register(v1, { relay, apiSecretKey: config.apiSecretKey, maxWaitSeconds: config.maxWaitSeconds })
  return app
}
