/**
 * The keyed hashes that stand in for ids in every adapter: a store holds these,
 * never the ids themselves. Prefixes keep the namespaces apart: the same user
 * as a target and as a requester hashes to two unrelated values, and v1 and
 * v2 pairs never meet.
 */
import type { IdPermutation } from '../crypto/id-permutation.js'
import type { Sealer } from '../crypto/sealer.js'
import type { Topic } from './task-store.js'

/** Namespaces of the user-id keys when they come from an IdPermutation. */
const TARGET = 1
const REQUESTER = 2

export class StoreKeys {
  readonly #sealer: Sealer
  readonly #ids: IdPermutation | undefined

  /**
   * With `ids`, user ids (targets, requesters) are keyed by that permutation
   * instead of the sealer's HMAC: the memory store's choice, since it keys the
   * caller on every poll and its keys live only as long as the process (see
   * id-permutation.ts). Without, every key is an HMAC (the Redis layout).
   * Either way 22 characters of base64url; a permuted and a hashed key meeting
   * in one map (wake keys: targets and requests) is a 128-bit collision.
   */
  constructor (sealer: Sealer, ids?: IdPermutation) {
    this.#sealer = sealer
    this.#ids = ids
  }

  /** A user as a target; also names their signed-in mark. */
  target (userId: number): string {
    return this.#ids === undefined ? this.#sealer.hash(`target:${userId}`) : this.#ids.of(TARGET, userId)
  }

  /** A v2 asker: who may read a request's answer, and whose quota an ask is charged to. */
  requester (userId: number): string {
    return this.#ids === undefined ? this.#sealer.hash(`requester:${userId}`) : this.#ids.of(REQUESTER, userId)
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
