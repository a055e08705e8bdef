/**
 * Picks the store adapter the settings ask for.
 */
import type { Config } from '../config.js'
import { MemoryTaskStore } from './memory-task-store.js'
import type { TaskStore } from './task-store.js'
import { Wakeups } from './wakeups.js'

export async function createStore (config: Config): Promise<TaskStore> {
  const wakeups = new Wakeups({ maxPerKey: config.maxHeldPollsPerUser, maxTotal: config.maxHeldPollsTotal })
  const limits = { ttlMs: config.requestTtlMs, maxPendingPerTarget: config.maxPendingPerTarget, maxPendingTotal: config.maxPendingTotal }
  if (config.store === 'redis') {
    throw new Error('redis store: not yet')
  }
  return new MemoryTaskStore({ ...limits, wakeups })
}
