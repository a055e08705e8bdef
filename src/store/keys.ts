/**
 * The keyed hashes that stand in for ids in every adapter: a store holds these,
 * never the ids themselves. Prefixes keep the three namespaces apart.
 */
import type { Sealer } from '../crypto/sealer.js'
import type { Topic } from './task-store.js'

export class StoreKeys {
  readonly #sealer: Sealer

  constructor (sealer: Sealer) {
    this.#sealer = sealer
  }

  target (userId: number): string {
    return this.#sealer.hash(`target:${userId}`)
  }

  request (requestId: string): string {
    return this.#sealer.hash(`request:${requestId}`)
  }

  pair (requesterId: number, targetId: number): string {
    return this.#sealer.hash(`pair:${requesterId}:${targetId}`)
  }

  topic (topic: Topic): string {
    return topic.kind === 'tasks' ? this.target(topic.userId) : this.request(topic.requestId)
  }
}
