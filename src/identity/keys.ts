/**
 * The secrets of v2 identity, each from its own label so that none can stand
 * in for another (nor for the store's own keys). In Redis mode they derive
 * from STORE_KEY, so every instance of a deployment seals and checks alike; in
 * memory mode they are random per process, like everything else it holds.
 */
import { hkdfSync, randomBytes } from 'node:crypto'
import type { StoreConfig } from '../config.js'

export const TOKEN_KEY_LABEL = 'whatclient v2 session token key'
export const SEEN_ONCE_KEY_LABEL = 'whatclient v2 init data seen-once key'

export interface IdentitySecrets {
  /** Seals session tokens. */
  token: Buffer
  /** Keys the hashes the single-use memory keeps of accepted init data. */
  seenOnce: Buffer
}

/** HKDF-SHA256 of a shared secret for one purpose (32 bytes). */
export function deriveKey (secret: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32))
}

export function identitySecrets (store: StoreConfig): IdentitySecrets {
  if (store.kind === 'redis') {
    return { token: deriveKey(store.key, TOKEN_KEY_LABEL), seenOnce: deriveKey(store.key, SEEN_ONCE_KEY_LABEL) }
  }
  return { token: randomBytes(32), seenOnce: randomBytes(32) }
}
