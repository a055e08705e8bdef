/**
 * A keyed permutation of numeric ids: AES-128 of one 16-byte block that holds a
 * namespace byte and the id. A lookup key that names nobody, like the sealer's
 * HMAC hash, at a third of the cost: an HMAC needs a new native object per call
 * (its state cannot be reset), while ECB over one block has no state between
 * blocks, so one cipher context made at start serves every call with a single
 * native `update`. That matters because the memory store hashes the caller's
 * user id on every poll.
 *
 * Privacy holds as with the HMAC: the key is made natively (generateKeySync)
 * and lives only in the cipher context, outside the JavaScript heap, so a heap
 * snapshot holds the keyed values but not the means to test a guessed id
 * against them. Unlike an HMAC the permutation can be inverted, but only with
 * that key, and whoever holds it can test every plausible user id anyway. The
 * block the id is written into is zeroed after each call.
 *
 * Deterministic per key only: a process-local key suits the memory store (its
 * keys live as long as the process); the Redis store keeps the HMAC hashes its
 * data layout names.
 */
import { generateKeySync, type Cipher, type KeyObject } from 'node:crypto'
import { BLOCK_BYTES, blockCipher } from './block-cipher.js'

export class IdPermutation {
  readonly #cipher: Cipher
  readonly #block = Buffer.alloc(BLOCK_BYTES)

  /** `key` is a 128-bit AES KeyObject; a new random one, made natively, when omitted. */
  constructor (key: KeyObject = generateKeySync('aes', { length: 128 })) {
    this.#cipher = blockCipher(key, 'encrypt')
  }

  /**
   * The keyed value (base64url, 22 characters) of `id` in `namespace` (0..255):
   * distinct namespaces give unrelated values for the same id.
   */
  of (namespace: number, id: number): string {
    const block = this.#block
    block[0] = namespace
    // Any number is written exactly (ids are safe integers): distinct ids, distinct blocks.
    block.writeDoubleBE(id, 8)
    const value = this.#cipher.update(block).toString('base64url')
    block.fill(0)
    return value
  }
}
