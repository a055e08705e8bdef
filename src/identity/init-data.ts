/**
 * Telegram Mini App init data: the proof that a call comes from a given
 * Telegram user (docs/protocol.md, "Version 2: verified identity"). The plugin gets
 * it from Telegram (messages.requestWebView); Telegram signs it two ways:
 * - `hash`, an HMAC keyed with the bot token (the bot owner's check; it covers
 *   every other field, `signature` included);
 * - `signature`, an Ed25519 signature by Telegram's own key over the bot id and
 *   the fields (the check for whoever knows only the bot id).
 * A server with TELEGRAM_BOT_TOKEN checks `hash`; with only TELEGRAM_BOT_ID it
 * checks `signature`. Both with node:crypto, in constant time.
 *
 * Also signs init data (`hash`, optionally `signature` with a test key) for
 * tests and for `whatclient init-data`.
 */
import { createHmac, createPublicKey, createSecretKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import {
  WC_ERR_INIT_DATA_FUTURE, WC_ERR_INIT_DATA_INVALID, WC_ERR_INIT_DATA_MALFORMED, WC_ERR_INIT_DATA_NO_USER,
  WC_ERR_INIT_DATA_STALE, WC_ERR_INIT_DATA_TOO_LONG
} from '../errors.js'

export const MAX_INIT_DATA_LENGTH = 4096
/** How far in the future `auth_date` may be (clock skew between Telegram and us). */
export const FUTURE_TOLERANCE_SECONDS = 60

/** Telegram's Ed25519 keys for `signature` (core.telegram.org/bots/webapps, "for third-party use"). */
export const TELEGRAM_PUBLIC_KEYS = {
  production: 'e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d',
  test: '40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec'
} as const

const HASH_HEX = /^[0-9a-fA-F]{64}$/
/** 64 bytes in base64url without padding. */
const SIGNATURE_B64URL = /^[A-Za-z0-9_-]{86}$/
const AUTH_DATE = /^[0-9]{1,12}$/

/**
 * Splits a query string into its fields, each key and value URL-decoded once
 * (form encoding: `+` is a space, as Telegram's own examples and every
 * verifier read it). Refuses what Telegram never sends: empty or key-only
 * fields, bad percent-encoding, and a key given twice (which parsers resolve
 * differently, the classic way to make a checker and a reader disagree).
 */
export function parseInitData (text: string): Map<string, string> {
  if (text.length > MAX_INIT_DATA_LENGTH) throw new WC_ERR_INIT_DATA_TOO_LONG()
  const fields = new Map<string, string>()
  if (text === '') throw new WC_ERR_INIT_DATA_MALFORMED()
  for (const part of text.split('&')) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw new WC_ERR_INIT_DATA_MALFORMED()
    const key = decodeOnce(part.slice(0, eq))
    const value = decodeOnce(part.slice(eq + 1))
    if (fields.has(key)) throw new WC_ERR_INIT_DATA_MALFORMED()
    fields.set(key, value)
  }
  return fields
}

function decodeOnce (text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    throw new WC_ERR_INIT_DATA_MALFORMED()
  }
}

/** `key=value` lines of every field but the excluded ones, sorted by key, joined with `\n`. */
export function dataCheckString (fields: ReadonlyMap<string, string>, exclude: readonly string[]): string {
  const lines: string[] = []
  for (const key of [...fields.keys()].sort()) {
    if (!exclude.includes(key)) lines.push(`${key}=${fields.get(key) as string}`)
  }
  return lines.join('\n')
}

/** secret = HMAC-SHA256(key "WebAppData", message bot token). */
function hashSecret (botToken: string): KeyObject {
  return createSecretKey(createHmac('sha256', 'WebAppData').update(botToken).digest())
}

/** A KeyObject for a raw 32-byte Ed25519 public key (hex or bytes). */
export function ed25519PublicKey (raw: string | Buffer): KeyObject {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'hex') : raw
  if (bytes.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes')
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' })
}

export interface InitDataVerifierOptions {
  /** TELEGRAM_BOT_TOKEN: check `hash`. */
  botToken?: string | undefined
  /** TELEGRAM_BOT_ID: check `signature` (used only when there is no bot token). */
  botId?: number | undefined
  /** TELEGRAM_TEST_ENV: Telegram's test-environment key for `signature`. */
  testEnvironment?: boolean
  /** INIT_DATA_MAX_AGE_SECONDS. */
  maxAgeSeconds: number
  /** Another Ed25519 public key than Telegram's (tests that sign with a key pair of their own). */
  publicKey?: KeyObject
  /** Unix seconds now (tests). */
  now?: () => number
}

export interface VerifiedInitData {
  userId: number
  authDate: number
  /**
   * What Telegram signed, decoded and in canonical order, without `hash` and
   * `signature`: the same for every spelling of one init data (reordered,
   * re-encoded), so the single-use memory cannot be dodged by re-spelling it.
   */
  fingerprint: string
  /** Seconds this init data stays fresh from now by this instance's clock (at least 1): how long to remember it. */
  freshForSeconds: number
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/**
 * Checks init data as the contract spells it; throws a coded 401 error naming
 * what failed. Authenticity is checked first, so data that Telegram did not
 * sign learns nothing about the freshness rules or the user check.
 */
export class InitDataVerifier {
  readonly mode: 'hash' | 'signature'
  readonly #secret: KeyObject | undefined
  readonly #publicKey: KeyObject | undefined
  readonly #signaturePrefix: string
  readonly #maxAgeSeconds: number
  readonly #now: () => number

  constructor (options: InitDataVerifierOptions) {
    if (!Number.isSafeInteger(options.maxAgeSeconds) || options.maxAgeSeconds < 1) throw new RangeError('maxAgeSeconds must be a positive integer')
    this.#maxAgeSeconds = options.maxAgeSeconds
    this.#now = options.now ?? nowSeconds
    if (options.botToken !== undefined) {
      this.mode = 'hash'
      this.#secret = hashSecret(options.botToken)
      this.#signaturePrefix = ''
    } else if (options.botId !== undefined) {
      this.mode = 'signature'
      this.#publicKey = options.publicKey ?? ed25519PublicKey(options.testEnvironment === true ? TELEGRAM_PUBLIC_KEYS.test : TELEGRAM_PUBLIC_KEYS.production)
      this.#signaturePrefix = `${options.botId}:WebAppData\n`
    } else {
      throw new RangeError('init data needs a bot token or a bot id to be checked against')
    }
  }

  verify (text: string): VerifiedInitData {
    const fields = parseInitData(text)
    const signed = dataCheckString(fields, ['hash', 'signature'])
    if (!this.#authentic(fields, signed)) throw new WC_ERR_INIT_DATA_INVALID()

    const userId = userIdOf(fields.get('user'))
    const authDateText = fields.get('auth_date')
    if (authDateText === undefined || !AUTH_DATE.test(authDateText)) throw new WC_ERR_INIT_DATA_MALFORMED()
    const authDate = Number(authDateText)
    const now = this.#now()
    if (authDate < now - this.#maxAgeSeconds) throw new WC_ERR_INIT_DATA_STALE()
    if (authDate > now + FUTURE_TOLERANCE_SECONDS) throw new WC_ERR_INIT_DATA_FUTURE()
    return { userId, authDate, fingerprint: signed, freshForSeconds: Math.max(1, authDate + this.#maxAgeSeconds - now + 1) }
  }

  #authentic (fields: ReadonlyMap<string, string>, withoutHashAndSignature: string): boolean {
    if (this.#secret !== undefined) {
      const hash = fields.get('hash')
      if (hash === undefined || !HASH_HEX.test(hash)) return false
      const expected = createHmac('sha256', this.#secret).update(dataCheckString(fields, ['hash'])).digest()
      return timingSafeEqual(expected, Buffer.from(hash, 'hex'))
    }
    const signature = fields.get('signature')
    if (signature === undefined || !SIGNATURE_B64URL.test(signature)) return false
    // Ed25519 verification takes the same time whatever the signature; there is no secret to leak.
    return verify(null, Buffer.from(this.#signaturePrefix + withoutHashAndSignature), this.#publicKey as KeyObject, Buffer.from(signature, 'base64url'))
  }
}

function userIdOf (json: string | undefined): number {
  if (json === undefined) throw new WC_ERR_INIT_DATA_NO_USER()
  let user: unknown
  try {
    user = JSON.parse(json)
  } catch {
    throw new WC_ERR_INIT_DATA_NO_USER()
  }
  const id = typeof user === 'object' && user !== null ? (user as { id?: unknown }).id : undefined
  // JSON numbers past 2^53 lose precision on parsing and land outside the safe range: refused too.
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new WC_ERR_INIT_DATA_NO_USER()
  return id
}

export interface SignInitDataOptions {
  /** Adds `hash` keyed with this bot token. */
  botToken?: string
  /** The `user` field: a user id, or the whole user object. */
  user: number | { id: number, [field: string]: unknown }
  /** Unix seconds; now by default. */
  authDate?: number
  /** Other fields, as Telegram adds them (query_id, chat_type, chat_instance...). */
  fields?: Record<string, string>
  /** Adds `signature` made with this Ed25519 private key for this bot id (tests: Telegram's key is Telegram's). */
  ed25519?: { privateKey: KeyObject, botId: number }
}

/**
 * Init data as Telegram would make it: fields URL-encoded, `signature` over the
 * bot id and the fields, `hash` over everything else (`signature` included).
 */
export function signInitData (options: SignInitDataOptions): string {
  const user = typeof options.user === 'number' ? { id: options.user, first_name: 'Test' } : options.user
  const fields = new Map<string, string>([
    ...Object.entries(options.fields ?? {}),
    ['user', JSON.stringify(user)],
    ['auth_date', String(options.authDate ?? nowSeconds())]
  ])
  if (options.ed25519 !== undefined) {
    const message = `${options.ed25519.botId}:WebAppData\n${dataCheckString(fields, ['hash', 'signature'])}`
    fields.set('signature', sign(null, Buffer.from(message), options.ed25519.privateKey).toString('base64url'))
  }
  if (options.botToken !== undefined) {
    fields.set('hash', createHmac('sha256', hashSecret(options.botToken)).update(dataCheckString(fields, ['hash'])).digest('hex'))
  }
  return [...fields].map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&')
}
