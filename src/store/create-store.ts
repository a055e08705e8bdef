/**
 * Opens the store adapter the settings ask for, and logs what happens to it
 * (once when it becomes unreachable, once when it is back).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { MemoryTaskStore } from './memory-task-store.js'
import type { StoreListener, TaskStore } from './task-store.js'

export async function createStore (config: Config, listener: StoreListener, log: FastifyBaseLogger): Promise<TaskStore> {
  const limits = {
    ttlMs: config.requestTtlMs,
    maxPendingPerTarget: config.maxPendingPerTarget,
    maxPendingTotal: config.maxPendingTotal,
    retryGraceMs: config.retryGraceMs
  }
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
    onWarning: (message) => log.warn(message)
  })
}
