/**
 * Sealed answers (docs/protocol.md, "Sealed answers"): the asker makes a one-use
 * X25519 key pair and sends its public half with the request; the target
 * encrypts its package name to it; the relay only ever holds ciphertext.
 *
 * The construction is HPKE (RFC 9180) base mode with one suite,
 * DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, taken from the
 * hpke-js packages rather than written here. What this module adds is only what
 * the protocol names: `info`, the request id as `aad`, the 256-byte zero
 * padding, strict base64url on the wire, and the same refusals as the plugin's
 * stdlib-Python implementation (in plugin/whatclient.plugin), so either side opens what
 * the other sealed and both refuse the same inputs.
 *
 * The hpke-js packages are the SDK's only runtime dependencies, a deliberate
 * exception to "nothing beyond Node": issue #13 asks for a well-kept HPKE
 * library rather than our own.
 */
import { CipherSuite, HkdfSha256 } from '@hpke/core'
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519'

/**
 * The one HPKE suite of the protocol (KEM 0x0020, KDF 0x0001, AEAD 0x0003).
 * Exported for the RFC 9180 vector tests; callers use the functions below.
 */
export const ANSWER_SUITE = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305()
})

const ANSWER_INFO = new TextEncoder().encode('whatclient/v2 answer')
/** Every sealed name is padded to this many bytes, so its length tells nothing. */
export const ANSWER_PADDED_BYTES = 256
const KEY_BYTES = 32
const TAG_BYTES = 16

export type SealingErrorCode =
  /** The package name cannot be sealed: empty, over 256 bytes of UTF-8, a NUL, or not well-formed text. */
  | 'WC_ERR_SEAL_NAME'
  /** The public key is not 32 bytes of canonical base64url, or is a low-order point no one can use. */
  | 'WC_ERR_SEAL_KEY'
  /** The request id is not a well-formed string (it is the `aad`, as UTF-8). */
  | 'WC_ERR_SEAL_REQUEST_ID'
  /** `enc` or `ciphertext` is not canonical base64url of the right size. */
  | 'WC_ERR_SEAL_FORMAT'
  /** The sealed answer does not open: another key, another request id, or changed on the way. */
  | 'WC_ERR_SEAL_OPEN'
  /** It opened, but is not one zero-padded UTF-8 name (WhatClientV2: not a package name): the sender broke the protocol. */
  | 'WC_ERR_SEAL_PADDING'

/**
 * What sealing and opening throw. Messages name no package, key or request:
 * they may end up in logs.
 */
export class SealingError extends Error {
  readonly code: SealingErrorCode

  constructor (code: SealingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SealingError'
    this.code = code
  }
}

/** A sealed answer as it travels: both fields base64url without padding. */
export interface SealedAnswer {
  /** The sender's ephemeral public key (32 bytes). */
  enc: string
  /** The padded name encrypted and authenticated (256 + 16 bytes). */
  ciphertext: string
}

declare const privateKeyBrand: unique symbol
/**
 * The private half of a key pair: an opaque handle, so the key cannot be
 * printed, logged or serialized by mistake. It lives in this process's memory
 * only, and only as long as the caller holds the handle.
 */
export interface SealingPrivateKey { readonly [privateKeyBrand]: true }

export interface SealingKeyPair {
  /** The public key (32 bytes X25519) as base64url: the request's `public_key`. */
  readonly publicKey: string
  readonly privateKey: SealingPrivateKey
}

// The library's key objects hold the raw key bytes; keeping them behind a
// WeakMap means a handle shows as `{}` and its key goes when the handle does.
type LibraryKeyPair = Awaited<ReturnType<typeof ANSWER_SUITE.kem.generateKeyPair>>
const heldKeys = new WeakMap<SealingPrivateKey, LibraryKeyPair>()

/** A fresh one-use key pair, for one sealed request. */
export async function makeKeyPair (): Promise<SealingKeyPair> {
  const keyPair = await ANSWER_SUITE.kem.generateKeyPair()
  const publicKey = encodeBase64Url(new Uint8Array(await ANSWER_SUITE.kem.serializePublicKey(keyPair.publicKey)))
  const privateKey = Object.freeze(Object.create(null)) as SealingPrivateKey
  heldKeys.set(privateKey, keyPair)
  return { publicKey, privateKey }
}

/** Encrypts a package name to the asker's `public_key`, bound to the request id. */
export async function sealAnswer (publicKey: string, requestId: string, packageName: string): Promise<SealedAnswer> {
  const name = utf8(packageName)
  if (name === undefined || name.length === 0 || name.length > ANSWER_PADDED_BYTES || name.includes(0)) {
    throw new SealingError('WC_ERR_SEAL_NAME', 'A package name is 1 to 256 bytes of UTF-8 without NUL.')
  }
  const aad = requestIdBytes(requestId)
  const rawKey = decodeBase64Url(publicKey, KEY_BYTES)
  if (rawKey === undefined) {
    throw new SealingError('WC_ERR_SEAL_KEY', 'A public key is 32 bytes, as base64url without padding.')
  }
  const padded = new Uint8Array(ANSWER_PADDED_BYTES)
  padded.set(name)
  let sealed
  try {
    const recipientPublicKey = await ANSWER_SUITE.kem.deserializePublicKey(rawKey)
    sealed = await ANSWER_SUITE.seal({ recipientPublicKey, info: ANSWER_INFO }, padded, aad)
  } catch (error) {
    // With the sizes checked above, the one input that fails here is a
    // low-order point (an all-zero shared secret, refused by RFC 9180 7.1.4).
    if (isHpkeError(error)) throw new SealingError('WC_ERR_SEAL_KEY', 'The public key is not usable.', { cause: error })
    throw error
  }
  return { enc: encodeBase64Url(new Uint8Array(sealed.enc)), ciphertext: encodeBase64Url(new Uint8Array(sealed.ct)) }
}

/** The package name inside a sealed answer; throws SealingError if it is not exactly that. */
export async function openAnswer (privateKey: SealingPrivateKey, sealed: SealedAnswer, requestId: string): Promise<string> {
  const keyPair = heldKeys.get(privateKey)
  if (keyPair === undefined) throw new TypeError('openAnswer needs a private key from makeKeyPair()')
  const aad = requestIdBytes(requestId)
  const enc = decodeBase64Url(sealed?.enc, KEY_BYTES)
  const ciphertext = decodeBase64Url(sealed?.ciphertext, ANSWER_PADDED_BYTES + TAG_BYTES)
  if (enc === undefined || ciphertext === undefined) {
    throw new SealingError('WC_ERR_SEAL_FORMAT', 'A sealed answer is a 32-byte enc and a 272-byte ciphertext, as base64url without padding.')
  }
  let padded: Uint8Array
  try {
    // The whole key pair, not just the private key: the library then needs no
    // second scalar multiplication to recompute the public key.
    padded = new Uint8Array(await ANSWER_SUITE.open({ recipientKey: keyPair, enc, info: ANSWER_INFO }, ciphertext, aad))
  } catch (error) {
    if (isHpkeError(error)) throw new SealingError('WC_ERR_SEAL_OPEN', 'The sealed answer does not open with this key and request id.', { cause: error })
    throw error
  }
  return unpad(padded)
}

// The library's errors for inputs it refuses, as opposed to a broken
// environment (NotSupportedError), which is let through as it is. By name, not
// class: if npm ever installs two copies of @hpke/common, the KEM's errors are
// not instances of the classes @hpke/core exports.
const HPKE_INPUT_ERRORS = new Set(['DecapError', 'DeserializeError', 'EncapError', 'OpenError', 'SerializeError', 'ValidationError'])
function isHpkeError (error: unknown): boolean {
  return error instanceof Error && HPKE_INPUT_ERRORS.has(error.name)
}

/**
 * The name ends at the first zero byte and everything after it must be zero,
 * so one plaintext has exactly one reading (as in the plugin).
 */
function unpad (padded: Uint8Array): string {
  const zero = padded.indexOf(0)
  const end = zero < 0 ? padded.length : zero
  if (end === 0 || padded.subarray(end).some((byte) => byte !== 0)) {
    throw new SealingError('WC_ERR_SEAL_PADDING', 'The sealed answer is not a padded package name.')
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(padded.subarray(0, end))
  } catch (error) {
    throw new SealingError('WC_ERR_SEAL_PADDING', 'The sealed answer is not UTF-8.', { cause: error })
  }
}

function requestIdBytes (requestId: string): Uint8Array {
  const bytes = utf8(requestId)
  if (bytes === undefined) throw new SealingError('WC_ERR_SEAL_REQUEST_ID', 'A request id is a well-formed string.')
  return bytes
}

/**
 * UTF-8 of a well-formed string; undefined for anything else. TextEncoder
 * would quietly turn a lone surrogate into U+FFFD, which is another name.
 */
function utf8 (text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined
  const bytes = new TextEncoder().encode(text)
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes) === text ? bytes : undefined
}

/** Base64url without padding, as the wire carries it. */
function encodeBase64Url (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * Exactly `size` bytes from strict base64url without padding, or undefined.
 * Node's decoder skips stray characters and ignores unused bits; encoding the
 * result again and comparing refuses both, and '+', '/' and '='. The length
 * is checked first, so an oversized field costs nothing to refuse.
 */
function decodeBase64Url (text: unknown, size: number): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length !== Math.ceil(size * 4 / 3)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  if (bytes.length !== size || bytes.toString('base64url') !== text) return undefined
  return new Uint8Array(bytes)
}
