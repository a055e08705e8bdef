/**
 * Opens the store adapter the settings ask for, and logs what happens to it
 * (once when it becomes unreachable, once when it is back).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { ServiceMetrics } from '../metrics/metrics.js'
import { MemoryTaskStore } from './memory-task-store.js'
import type { StoreLimits, StoreListener, TaskStore } from './task-store.js'

/** The store's limits from the settings. */
export function storeLimits (config: Config): StoreLimits {
  const signInConfigured = config.telegramBotToken !== undefined || config.telegramBotId !== undefined
  return {
    ttlMs: config.requestTtlMs,
    maxPendingPerTarget: config.maxPendingPerTarget,
    maxPendingTotal: config.maxPendingTotal,
    retryGraceMs: config.retryGraceMs,
    // Room kept for verified questions only where there can be any: a v1-only server keeps the whole cap for v1.
    maxUnverifiedPerTarget: signInConfigured ? Math.min(config.maxUnverifiedPerTarget, config.maxPendingPerTarget) : undefined,
    askQuota: { limit: config.askLimitPerHour },
    maxSignedInUsers: config.maxSignedInUsers
  }
}

export async function createStore (config: Config, listener: StoreListener, log: FastifyBaseLogger, metrics?: Pick<ServiceMetrics, 'storeFailure'>): Promise<TaskStore> {
  const limits = storeLimits(config)
  const store = config.store
  if (store.kind === 'memory') return new MemoryTaskStore({ ...limits, listener })
  const { RedisTaskStore } = await import('./redis-task-store.js')
  return RedisTaskStore.connect({
    ...limits,
    listener,
    url: store.url,
    prefix: store.prefix,
    storeKey: store.key,
    onStateChange: (state, reason) => {
      if (state === 'down') log.warn({ reason }, 'store unreachable: calls answer 503 until Redis is back')
      else log.info('store back: Redis answers again')
    },
    onWarning: (message) => log.warn(message),
    onFailure: (kind) => metrics?.storeFailure(kind)
  })
}
