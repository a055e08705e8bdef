/**
 * The WhatClient server as a Fastify instance: HTTP limits, logging, the
 * signed-body parser, error shapes, API docs and routes, and in front of them
 * the task-poll fast path. The process concerns (settings, listen, signals)
 * live in server.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { HmacKey } from './crypto/hmac.js'
import { logFailedAccepts } from './failed-accepts.js'
import { TaskPolls } from './fast-path/task-polls.js'
import { HttpServers } from './http-servers.js'
import { bufferedStdout, loggingOptions, logsEveryRequest, summariseRequests } from './logging.js'
import { installPipelineLimit } from './pipelined-calls.js'
import { RequestStats } from './request-stats.js'
import { Metrics } from './metrics/metrics.js'
import errors from './plugins/errors.js'
import gracefulClose from './plugins/graceful-close.js'
import metricsPlugin from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import protocolErrors, { clientErrorHandler, frameworkErrorHandler } from './plugins/protocol-errors.js'
import signedBody from './plugins/signed-body.js'
import { validatorCompiler } from './plugins/validators.js'
import { Relay } from './relay/relay.js'
import operations from './routes/operations.js'
import v1 from './routes/v1/index.js'
import v2 from './routes/v2/index.js'
import { createStore } from './store/create-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: Relay
    /** Writes the last request summary and every buffered log line now (the process may be about to exit). */
    flushLogs: () => void
  }
}

export interface BuildOptions {
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream
  /** How long a client may take to send a whole request (tests shorten it); see below. */
  requestTimeoutMs?: number
}

export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const stdout = options.logStream === undefined ? bufferedStdout() : undefined
  const stats = new RequestStats()
  const metrics = new Metrics()
  // Time to receive a whole request, headers and body (then 408): slow-loris clients are cut.
  // A held long-poll is not affected: its request was complete when the hold began.
  const requestTimeout = options.requestTimeoutMs ?? (config.maxWaitSeconds + 30) * 1000
  const taskPolls = new TaskPolls()
  const httpOptions = {
    // Checked by the protocol-errors plugin, which answers {detail} where Node answers an empty 400.
    requireHostHeader: false,
    // Node enforces no request timeout at all while its headers timeout (60 s by default)
    // is longer than the request timeout.
    headersTimeout: Math.min(60_000, requestTimeout),
    // How often Node looks for requests past their timeouts (its default is 30 s).
    connectionsCheckingInterval: Math.min(30_000, requestTimeout)
  }
  const app = Fastify({
    ...loggingOptions(config.logLevel, stats, options.logStream ?? stdout?.stream),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout,
    keepAliveTimeout: 72_000,
    forceCloseConnections: 'idle',
    // The routes refuse calls while closing with {detail} (routes/refuse-while-closing.ts; Fastify's own 503 has another shape).
    return503OnClosing: false,
    routerOptions: { maxParamLength: 256 },
    http: httpOptions,
    // Requests that never reach a route (unparseable HTTP, unreadable URLs): the same
    // {detail} shape as the rest, and no echo of the request.
    clientErrorHandler: clientErrorHandler(stats),
    frameworkErrors: frameworkErrorHandler(stats)
  }).withTypeProvider<TypeBoxTypeProvider>()

  // The servers the app answers on: app.server, and for localhost one per other address (http-servers.ts).
  const httpServers = new HttpServers(app.server, httpOptions)
  app.decorate('httpServers', httpServers)
  // In front of Fastify's own request listener, on each of them.
  httpServers.each((server) => { taskPolls.install(server) })
  // And in front of both: a connection's pipelined calls are bounded before any is looked at.
  httpServers.each((server) => { installPipelineLimit(server, config.maxPipelinedCalls) })
  const failedAccept = logFailedAccepts(app.log)
  httpServers.each((server) => { server.on('error', failedAccept) })
  app.setValidatorCompiler(validatorCompiler)

  const summaries = summariseRequests(app.log, stats, config.logSummaryMs)
  app.decorate('flushLogs', () => {
    summaries.close()
    stdout?.close()
  })
  const relay = await Relay.open((listener) => createStore(config, listener, app.log, metrics),
    { maxPerKey: config.maxHeldPollsPerUser, maxTotal: config.maxHeldPollsTotal })
  app.decorate('relay', relay)

  // The first preClose hook, so the moment the server is closing (relay.isClosing) for all
  // that reads it: from here the routes refuse calls, /readyz says closing and the fast path
  // takes no poll. Held polls answer at once, instead of at their deadline. Their
  // replies can leave after Node has closed the idle connections (a last store call takes a
  // Redis round trip): they say `Connection: close` (routes/held-reply.ts, and
  // fast-path/task-polls.ts for the polls held there), so that those
  // connections do not stay open for keep-alive. (Not an onSend hook: every reply would pay.)
  app.addHook('preClose', async () => {
    relay.releaseHolds()
  })
  app.addHook('onClose', async () => {
    await relay.close()
    app.flushLogs()
  })

  await app.register(gracefulClose)
  // After graceful close has dealt with their connections, as Fastify closes app.server after it.
  app.addHook('preClose', (done) => {
    httpServers.stopListening()
    done()
  })
  await app.register(signedBody)
  await app.register(errors)
  await app.register(protocolErrors)
  await app.register(openapi)
  await app.register(metricsPlugin, { metrics, relay, host: config.metricsHost, port: config.metricsPort })
  await app.register(operations, { relay })
  // One key for the v1 signature check, in the routes and in the fast path.
  const v1Key = config.v1Enabled ? new HmacKey(config.apiSecretKey) : undefined
  if (v1Key !== undefined) await app.register(v1, { relay, key: v1Key, maxWaitSeconds: config.maxWaitSeconds })
  // In Redis mode, v2's sign-in memory borrows the relay's store connection.
  await app.register(v2, { config, metrics, store: relay.store })
  if (!logsEveryRequest(config.logLevel)) {
    const recordMetrics = app.requestMetrics
    taskPolls.enable({
      relay,
      maxWaitSeconds: config.maxWaitSeconds,
      v1Key,
      tokens: app.identity.tokens,
      record: (method, route, statusCode, ms) => {
        stats.record(method, route, statusCode, ms)
        recordMetrics?.(method, route, statusCode, ms / 1000)
      }
    })
  }
  // Last, so first of the onClose hooks (they run last in, first out), as Fastify's own close
  // of app.server is: calls still in flight on localhost's other addresses finish before any
  // plugin closes what they use (the relay, the sign-in memory, the metrics listener).
  app.addHook('onClose', async () => { await httpServers.closed() })
  return app
}
