/**
 * Session tokens: what POST /v2/session hands out and every other v2 call
 * carries as `Authorization: Bearer`. Sealed, not just signed: a token is
 * ciphertext of the user id and the expiry, so one seen in a proxy log names
 * nobody, and any change to it fails authentication. Every instance of a
 * deployment derives the same keys (keys.ts), so any accepts any's tokens.
 *
 * The construction is encrypt-then-MAC over one AES block, with two keys
 * derived for it alone: C = AES-256(k_cipher, P) and T = AES-256(k_tag, C);
 * the token is base64url(C | T), 43 characters. P is 16 bytes: 4 random
 * (two sign-ins give two tokens), the user id (8, big-endian) and the expiry
 * (4, unix seconds, big-endian: until 2106). AES under an unknown key is a
 * pseudorandom permutation, and on messages of one fixed block it is also a
 * MAC (the one-block CBC-MAC): forging a token means finding AES(k_tag, ·) of
 * a block never tagged, a chance of 2^-128 per try; C, the only place the
 * user id is, is a pseudorandom block to anyone without k_cipher.
 *
 * Why not AES-GCM, as the sealer (src/crypto/sealer.ts) does for stored
 * values, or `jose`: the token is checked on every poll, and an AEAD needs a
 * new native cipher per call (Node cannot re-key one under a new IV) while ECB
 * over one block has no state between blocks, so the three cipher contexts
 * made here at start (src/crypto/block-cipher.ts) serve every call with one
 * native `update` each. Measured (BENCHMARKS.md §18): a verify takes 1.9 µs
 * in a loop (bench/tokens.ts) against 3.5-4.4 µs for the GCM token's, and a
 * v2 poll costs a server 9-12 µs less than it did, where a cipher object per
 * poll cost more than a loop shows; `jose` (JWE dir + A256GCM through
 * WebCrypto) took 65-100 µs. Like
 * the id permutation (src/crypto/id-permutation.ts), the derived keys are kept
 * only in the native contexts, not in the JavaScript heap (the secret they
 * derive from is: STORE_KEY in Redis mode).
 */
import { createSecretKey, randomFillSync, timingSafeEqual, type Cipher, type Decipher, type KeyObject } from 'node:crypto'
import { BLOCK_BYTES, blockCipher } from '../crypto/block-cipher.js'
import { WC_ERR_TOKEN_EXPIRED, WC_ERR_TOKEN_INVALID } from '../errors.js'
import { nowSeconds } from './init-data.js'
import { deriveKey } from './keys.js'

/** The labels of the two keys, derived from the token secret: a new format gets new labels. */
const CIPHER_KEY_LABEL = 'whatclient v2 session token 2: cipher'
const TAG_KEY_LABEL = 'whatclient v2 session token 2: tag'
/**
 * base64url of C | T, 32 bytes, without padding, in its one spelling: the last of
 * the 43 characters carries 4 bits and 2 unused ones, which must be zero (else an
 * altered token would decode to the same bytes): A, E, I, ... (values 0, 4, 8, ...).
 */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/
/** Where P holds what: 4 random bytes, the user id's high and low 32 bits, the expiry. */
const USER_HIGH = 4
const USER_LOW = 8
const EXPIRY = 12
const TWO_TO_32 = 2 ** 32
/** The high 32 bits of a safe integer are below 2^21. */
const SAFE_HIGH = 2 ** 21

/** A KeyObject of `secret`'s key for `label`; the derived bytes are wiped once the key is native. */
function derivedKey (secret: Buffer, label: string): KeyObject {
  const bytes = deriveKey(secret, label)
  const key = createSecretKey(bytes)
  bytes.fill(0)
  return key
}

export interface Session {
  userId: number
  /** Unix seconds. */
  expiresAt: number
}

export interface SessionTokensOptions {
  /** 32 secret bytes (keys.ts): the same on every instance in Redis mode. */
  secret: Buffer
  /** SESSION_TTL_SECONDS. */
  ttlSeconds: number
  /** Unix seconds now (tests). */
  now?: () => number
}

export class SessionTokens {
  readonly #encrypt: Cipher
  readonly #decrypt: Decipher
  readonly #tag: Cipher
  readonly #ttlSeconds: number
  readonly #now: () => number

  constructor (options: SessionTokensOptions) {
    const cipherKey = derivedKey(options.secret, CIPHER_KEY_LABEL)
    this.#encrypt = blockCipher(cipherKey, 'encrypt')
    this.#decrypt = blockCipher(cipherKey, 'decrypt')
    this.#tag = blockCipher(derivedKey(options.secret, TAG_KEY_LABEL), 'encrypt')
    this.#ttlSeconds = options.ttlSeconds
    this.#now = options.now ?? nowSeconds
    // Fails closed at start should a Node or OpenSSL ever hold a block back in an update
    // without padding: each verify would then read the block of the call before it.
    const unfit = new Error('AES-256-ECB does not answer block for block here: session tokens cannot work')
    for (const userId of [1, Number.MAX_SAFE_INTEGER]) {
      let session: Session
      try {
        session = this.verify(this.issue(userId).token)
      } catch (cause) {
        throw Object.assign(unfit, { cause })
      }
      if (session.userId !== userId) throw unfit
    }
  }

  issue (userId: number): Session & { token: string } {
    if (!Number.isSafeInteger(userId) || userId < 1) throw new RangeError('user ids are integers in 1..2^53-1')
    const expiresAt = this.#now() + this.#ttlSeconds
    if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt >= TWO_TO_32) throw new RangeError('the expiry is past what a token holds (2106)')
    const plaintext = Buffer.alloc(BLOCK_BYTES)
    randomFillSync(plaintext, 0, USER_HIGH)
    plaintext.writeUInt32BE(Math.floor(userId / TWO_TO_32), USER_HIGH)
    plaintext.writeUInt32BE(userId % TWO_TO_32, USER_LOW)
    plaintext.writeUInt32BE(expiresAt, EXPIRY)
    const ciphertext = this.#encrypt.update(plaintext)
    plaintext.fill(0)
    const token = Buffer.concat([ciphertext, this.#tag.update(ciphertext)]).toString('base64url')
    return { token, userId, expiresAt }
  }

  /** The session a token carries; throws WC_ERR_TOKEN_INVALID (forged, altered, other key) or WC_ERR_TOKEN_EXPIRED. */
  verify (token: string): Session {
    if (!TOKEN_FORMAT.test(token)) throw new WC_ERR_TOKEN_INVALID()
    const bytes = Buffer.from(token, 'base64url')
    const ciphertext = bytes.subarray(0, BLOCK_BYTES)
    if (!timingSafeEqual(this.#tag.update(ciphertext), bytes.subarray(BLOCK_BYTES))) throw new WC_ERR_TOKEN_INVALID()
    // Read from the bytes: no string of the plaintext (the user id) is made.
    const plaintext = this.#decrypt.update(ciphertext)
    const high = plaintext.readUInt32BE(USER_HIGH)
    const session = { userId: high * TWO_TO_32 + plaintext.readUInt32BE(USER_LOW), expiresAt: plaintext.readUInt32BE(EXPIRY) }
    plaintext.fill(0)
    // Only a key that tagged a block it did not make could fail these: kept as a second line.
    if (high >= SAFE_HIGH || session.userId < 1) throw new WC_ERR_TOKEN_INVALID()
    if (session.expiresAt <= this.#now()) throw new WC_ERR_TOKEN_EXPIRED()
    return session
  }
}
