/**
 * What a v2 client remembers of its own asks, in memory only and bounded:
 * - for each request it asked, when it expires and, for a sealed one, the
 *   one-use key pair whose private half opens the answer; forgotten once the
 *   answer (or a decline, or expiry) has been read, or when the request has
 *   expired;
 * - for each sealed ask not yet answered, its key pair by target and
 *   anonymity, so that asking again (a retry after a lost reply, say) sends
 *   the same public key: the server then hands back the same request instead
 *   of opening a second one and charging the quota twice.
 */
import { makeKeyPair, type SealingKeyPair } from './sealing.js'

export interface AskedRequest {
  /** Unix seconds, as the server said. */
  expiresAt: number
  /** The request was asked sealed: its answer must come sealed, and this opens it. */
  keyPair: SealingKeyPair | undefined
}

interface PendingKey {
  keyPair: SealingKeyPair
  /** Epoch ms after which the key is no longer offered for a retry. */
  dropAt: number
}

/** How long a key pair waits for a retry when the server never confirmed the ask (so its expiry is unknown). */
const UNCONFIRMED_MS = 10 * 60_000
/** Kept this long past a request's expiry, for a reply that was on its way. */
const EXPIRY_GRACE_MS = 60_000
/** At most this many of each kind; the oldest go first. */
export const MAX_REMEMBERED = 1024

export class AskedRequests {
  readonly #byAsk = new Map<string, PendingKey>()
  readonly #byRequest = new Map<string, AskedRequest & { dropAt: number }>()

  /** The key pair to send for a sealed ask: the one of an unanswered ask of the same target and anonymity, else a new one. */
  async keyFor (targetId: number, anonymous: boolean): Promise<SealingKeyPair> {
    this.#prune()
    const ask = askKey(targetId, anonymous)
    const pending = this.#byAsk.get(ask)
    if (pending !== undefined) return pending.keyPair
    const keyPair = await makeKeyPair()
    // Another ask may have made one while this one waited for its key pair: the first stays.
    const raced = this.#byAsk.get(ask)
    if (raced !== undefined) return raced.keyPair
    remember(this.#byAsk, ask, { keyPair, dropAt: Date.now() + UNCONFIRMED_MS })
    return keyPair
  }

  /** The server refused the ask for good (not a retryable failure): its key pair is not offered again. */
  refused (targetId: number, anonymous: boolean, keyPair: SealingKeyPair): void {
    const ask = askKey(targetId, anonymous)
    if (this.#byAsk.get(ask)?.keyPair === keyPair) this.#byAsk.delete(ask)
  }

  /**
   * The server took the ask: remember the request until it expires, `lifetimeMs` from now
   * (by this machine's clock, which need not agree with the server's).
   */
  asked (requestId: string, expiresAt: number, lifetimeMs: number, sealed?: { targetId: number, anonymous: boolean, keyPair: SealingKeyPair }): void {
    const dropAt = Date.now() + Math.max(0, lifetimeMs) + EXPIRY_GRACE_MS
    remember(this.#byRequest, requestId, { expiresAt, keyPair: sealed?.keyPair, dropAt })
    if (sealed === undefined) return
    const pending = this.#byAsk.get(askKey(sealed.targetId, sealed.anonymous))
    if (pending?.keyPair === sealed.keyPair) pending.dropAt = dropAt
  }

  get (requestId: string): AskedRequest | undefined {
    this.#prune()
    return this.#byRequest.get(requestId)
  }

  /** The request has ended for this client (answer read, declined, expired): forget it and its key. */
  done (requestId: string): void {
    const request = this.#byRequest.get(requestId)
    this.#byRequest.delete(requestId)
    if (request?.keyPair === undefined) return
    for (const [ask, pending] of this.#byAsk) if (pending.keyPair === request.keyPair) this.#byAsk.delete(ask)
  }

  #prune (): void {
    const now = Date.now()
    for (const [ask, pending] of this.#byAsk) if (pending.dropAt <= now) this.#byAsk.delete(ask)
    for (const [id, request] of this.#byRequest) if (request.dropAt <= now) this.#byRequest.delete(id)
  }
}

const askKey = (targetId: number, anonymous: boolean): string => `${targetId}/${anonymous ? 'anonymous' : 'named'}`

function remember<V> (map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
  for (const oldest of map.keys()) {
    if (map.size <= MAX_REMEMBERED) break
    map.delete(oldest)
  }
}
