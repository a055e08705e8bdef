/**
 * Picks the store adapter the settings ask for.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { MemoryTaskStore } from './memory-task-store.js'
import type { TaskStore } from './task-store.js'
import { Wakeups } from './wakeups.js'

export async function createStore (config: Config, log: FastifyBaseLogger): Promise<TaskStore> {
  const wakeups = new Wakeups({ maxPerKey: config.maxHeldPollsPerUser, maxTotal: config.maxHeldPollsTotal })
  const limits = { ttlMs: config.requestTtlMs, maxPendingPerTarget: config.maxPendingPerTarget, maxPendingTotal: config.maxPendingTotal }
  if (config.store === 'redis') {
    const { RedisTaskStore } = await import('./redis-task-store.js')
    // Before it has connected the server serves nothing: a failed start is reported by the caller.
    let connected = false
    const store = await RedisTaskStore.connect({
      ...limits,
      wakeups,
      url: config.redisUrl,
      prefix: config.redisKeyPrefix,
      storeKey: config.storeKey as Buffer,
      onStateChange: (state, reason) => {
        if (!connected) return
        if (state === 'down') log.warn({ reason }, 'task store unavailable: calls answer 503 until Redis is back')
        else log.info('task store available again')
      }
    })
    connected = true
    return store
  }
  return new MemoryTaskStore({ ...limits, wakeups })
}
