/**
 * Prometheus metrics for the app: counts every answered request by method,
 * route pattern (never the URL, which carries user and request ids) and
 * status, with its latency, reads the store's gauges at each scrape, and serves
 * the exposition on a listener of its own (src/metrics/listener.ts), started and
 * closed with the app. Nothing is served on the public port. With no metrics
 * port set, requests are not timed and nothing is served (the counters other
 * modules bump, sign-ins and store failures, stay in memory, unread).
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { WC_ERR_CANNOT_LISTEN } from '../errors.js'
import { logFailedAccepts } from '../failed-accepts.js'
import { elapsedMs } from '../fast-path/handed-on.js'
import { routeOf } from '../logging.js'
import { MetricsListener } from '../metrics/listener.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Relay } from '../relay/relay.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where /metrics is served, or null when metrics are off (or not started yet). */
    metricsAddress (): AddressInfo | null
    /**
     * Counts one answered request in the metrics, for requests answered outside
     * Fastify's hooks (the fast path); null when metrics are off.
     */
    requestMetrics: ((method: string, route: string, statusCode: number, seconds: number) => void) | null
  }
}

export interface MetricsPluginOptions {
  metrics: Metrics
  relay: Relay
  host: string
  /** undefined: metrics off. 0 picks a free port. */
  port: number | undefined
}

async function metricsPlugin (app: FastifyInstance, { metrics, relay, host, port }: MetricsPluginOptions): Promise<void> {
  const listener = port === undefined ? undefined : new MetricsListener(metrics, logFailedAccepts(app.log))
  app.decorate('metricsAddress', () => listener?.address() ?? null)
  if (listener === undefined || port === undefined) {
    app.decorate('requestMetrics', null)
    return
  }
  const record = (method: string, route: string, statusCode: number, seconds: number): void => { metrics.recordRequest(method, route, statusCode, seconds) }
  app.decorate('requestMetrics', record)

  metrics.collectProcessMetrics()
  metrics.readPendingRequests(() => relay.countHeldRequests())
  metrics.readHeldPolls(() => relay.heldPolls())

  // A callback hook, not an async one: it runs on every poll, and a promise per call shows.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    record(request.method, routeOf(request), reply.statusCode, elapsedMs(request.raw, reply.elapsedTime) / 1000)
    done()
  })

  // onReady, not onListen: a metrics port that cannot be bound must stop the start.
  app.addHook('onReady', async () => {
    let address: AddressInfo
    try {
      address = await listener.listen(host, port)
    } catch (error) {
      throw new WC_ERR_CANNOT_LISTEN(`METRICS_HOST=${host} METRICS_PORT=${port}: ${(error as Error).message}`, { cause: error })
    }
    app.log.info({ metrics: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics` }, 'metrics listening')
  })
  app.addHook('onClose', async () => { await listener.close() })
}

export default fp(metricsPlugin, { name: 'metrics' })
