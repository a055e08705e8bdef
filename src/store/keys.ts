/**
 * The keyed hashes that stand in for ids in every adapter: a store holds these,
 * never the ids themselves. Prefixes keep the namespaces apart: the same user
 * as a target and as a requester hashes to two unrelated values, and v1 and
 * v2 pairs never meet.
 */
import type { Sealer } from '../crypto/sealer.js'
import type { Topic } from './task-store.js'

export class StoreKeys {
  readonly #sealer: Sealer

  constructor (sealer: Sealer) {
    this.#sealer = sealer
  }

  /** A user as a target; also names their signed-in mark. */
  target (userId: number): string {
    return this.#sealer.hash(`target:${userId}`)
  }

  /** A v2 asker: who may read a request's answer, and whose quota an ask is charged to. */
  requester (userId: number): string {
    return this.#sealer.hash(`requester:${userId}`)
  }

  request (requestId: string): string {
    return this.#sealer.hash(`request:${requestId}`)
  }

  /** A v1 (requester, target) pair, for dedupe: a v1 requester id is only claimed. */
  pair (requesterId: number, targetId: number): string {
    return this.#sealer.hash(`pair:${requesterId}:${targetId}`)
  }

  /** A v2 pair, for dedupe: the same asker, target and public key (or none). */
  verifiedPair (requesterId: number, targetId: number, publicKey: string | undefined): string {
    return this.#sealer.hash(`ask:${requesterId}:${targetId}:${publicKey ?? ''}`)
  }

  topic (topic: Topic): string {
    return topic.kind === 'tasks' ? this.target(topic.userId) : this.request(topic.requestId)
  }
}
