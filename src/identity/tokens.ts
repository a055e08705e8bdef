/**
 * Session tokens: what POST /v2/session hands out and every other v2 call
 * carries as `Authorization: Bearer`. Sealed, not just signed: the token is
 * AES-256-GCM ciphertext of "<user id>.<expiry>", so one seen in a proxy log
 * names nobody, and any change to it fails authentication. Every instance of
 * a deployment derives the same key (keys.ts), so any accepts any's tokens.
 *
 * Sealed with our own AES-GCM sealer (src/crypto/sealer.ts), not `jose`: the
 * token is checked on every poll, and on this machine (Node 20, 2 vCPUs)
 * `jose` 6 (JWE compact, dir + A256GCM, through WebCrypto, asynchronous)
 * took 65-100 µs per verify, more than the whole 43 µs a v1 idle poll costs
 * today, while the sealer's synchronous AES-GCM with a KeyObject takes a few
 * µs (bench/tokens.ts). Nothing else needs JOSE: tokens are opaque to clients
 * and only this server reads them, so a standard format buys no interop. The
 * construction is the same as JWE dir + A256GCM (random 96-bit IV, 128-bit
 * tag, the purpose as associated data), at a third of the length (~64
 * characters instead of ~130 on every call).
 */
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_TOKEN_EXPIRED, WC_ERR_TOKEN_INVALID } from '../errors.js'
import { nowSeconds } from './init-data.js'

/** Bound into every token: a token sealed for another purpose (or format) does not open. */
const CONTEXT = 'whatclient v2 session token 1'
const CONTEXT_BYTES = Buffer.from(CONTEXT)
/** base64url of iv (12) + tag (16) + plaintext (at most 16 + 1 + 12 digits). */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{40,80}$/
/** The plaintext, "<user id>.<expiry>": [1-9][0-9]{0,15} "." [0-9]{1,12}. */
const MAX_USER_DIGITS = 16
const MAX_EXPIRY_DIGITS = 12
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39

/**
 * Whether a base64url string (alphabet already checked) is the one spelling of
 * its bytes: a length that is not 1 mod 4, and zero in the unused low bits of
 * the last character (else an altered token would decode to the same bytes).
 */
function canonicalBase64url (text: string): boolean {
  const rest = text.length % 4
  if (rest === 0) return true
  if (rest === 1) return false
  const c = text.charCodeAt(text.length - 1)
  // The character's 6-bit value: A-Z 0-25, a-z 26-51, 0-9 52-61, - 62, _ 63.
  const value = c === 95 ? 63 : c >= 97 ? c - 71 : c >= 65 ? c - 65 : c >= 48 ? c + 4 : 62
  return (value & (rest === 2 ? 0b1111 : 0b11)) === 0
}

/** The user id and expiry of a token's plaintext, read from its bytes; undefined when it is not "<id>.<expiry>". */
function parsePlaintext (bytes: Buffer): Session | undefined {
  const dot = bytes.indexOf(DOT)
  if (dot < 1 || dot > MAX_USER_DIGITS || bytes.length - dot - 1 < 1 || bytes.length - dot - 1 > MAX_EXPIRY_DIGITS) return undefined
  if (bytes[0] === ZERO) return undefined
  let userId = 0
  for (let i = 0; i < dot; i++) {
    const c = bytes[i] as number
    if (c < ZERO || c > NINE) return undefined
    userId = userId * 10 + (c - ZERO)
  }
  let expiresAt = 0
  for (let i = dot + 1; i < bytes.length; i++) {
    const c = bytes[i] as number
    if (c < ZERO || c > NINE) return undefined
    expiresAt = expiresAt * 10 + (c - ZERO)
  }
  return { userId, expiresAt }
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
  readonly #sealer: Sealer
  readonly #ttlSeconds: number
  readonly #now: () => number

  constructor (options: SessionTokensOptions) {
    this.#sealer = new Sealer(options.secret)
    this.#ttlSeconds = options.ttlSeconds
    this.#now = options.now ?? nowSeconds
  }

  issue (userId: number): Session & { token: string } {
    if (!Number.isSafeInteger(userId) || userId < 1) throw new RangeError('user ids are integers in 1..2^53-1')
    const expiresAt = this.#now() + this.#ttlSeconds
    const sealed = this.#sealer.seal(`${userId}.${expiresAt}`, CONTEXT)
    return { token: Buffer.from(sealed, 'latin1').toString('base64url'), userId, expiresAt }
  }

  /** The session a token carries; throws WC_ERR_TOKEN_INVALID (forged, altered, other key) or WC_ERR_TOKEN_EXPIRED. */
  verify (token: string): Session {
    if (!TOKEN_FORMAT.test(token)) throw new WC_ERR_TOKEN_INVALID()
    // One spelling per token: base64url's unused trailing bits would otherwise let an altered token pass.
    if (!canonicalBase64url(token)) throw new WC_ERR_TOKEN_INVALID()
    // Checked from the bytes: no string of the plaintext (the user id) is made.
    const plaintext = this.#sealer.openBytes(Buffer.from(token, 'base64url'), CONTEXT_BYTES)
    const session = plaintext === undefined ? undefined : parsePlaintext(plaintext)
    plaintext?.fill(0)
    if (session === undefined || !Number.isSafeInteger(session.userId)) throw new WC_ERR_TOKEN_INVALID()
    if (session.expiresAt <= this.#now()) throw new WC_ERR_TOKEN_EXPIRED()
    return session
  }
}
