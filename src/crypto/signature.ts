/**
 * v1 request signatures: lowercase hex HMAC-SHA256 keyed with the shared
 * API_SECRET_KEY over the raw POST body, or over the percent-decoded GET path.
 * Signing is the SDK's (one definition for clients and server); checking is here.
 */
import * as crypto from 'node:crypto'
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

export { sign } from 'whatclient-sdk'

const SIGNATURE_BYTES = 32
const HEX_SIGNATURE = /^[0-9a-fA-F]{64}$/

/** SHA-256's block, in bytes: the length of an HMAC key's pads. */
const BLOCK_BYTES = 64
/** `crypto.hash`, one-shot, from Node 20.12 (read from the namespace: a named import of it would not load before). */
const hashOnce = crypto.hash as typeof crypto.hash | undefined
/** SHA-256 of `data`: one-shot where Node has it, else through a Hash object (Node before 20.12). */
const sha256: (data: Buffer) => Buffer = hashOnce !== undefined
  ? (data) => hashOnce('sha256', data, 'buffer')
  : (data) => createHash('sha256').update(data).digest()

/**
 * API_SECRET_KEY, made ready to check signatures on every call: HMAC-SHA256 as
 * RFC 2104 defines it, H(key ^ opad | H(key ^ ipad | message)), over two
 * one-shot hashes. `createHmac` makes a native object per call, and every v1
 * poll checks a signature: BENCHMARKS.md §18 measured what that costs. The key
 * stays in the JavaScript heap as its two pads, where it is already as the
 * setting (and every plugin in the field carries it).
 */
export class SignatureKey {
  /** key ^ 0x36. */
  readonly #inner: Buffer
  /** key ^ 0x5c, then room for the inner hash. */
  readonly #outer = Buffer.alloc(BLOCK_BYTES + 32, 0x5c)

  constructor (secret: string | Buffer) {
    const given = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
    // A key longer than the block is hashed first (RFC 2104).
    const key = given.length > BLOCK_BYTES ? sha256(given) : given
    this.#inner = Buffer.alloc(BLOCK_BYTES, 0x36)
    for (let i = 0; i < key.length; i++) {
      this.#inner[i] = (this.#inner[i] as number) ^ (key[i] as number)
      this.#outer[i] = (this.#outer[i] as number) ^ (key[i] as number)
    }
  }

  /** HMAC-SHA256 of `material` (a string as UTF-8): a new Buffer every call. */
  mac (material: string | Buffer): Buffer {
    const message = typeof material === 'string' ? Buffer.from(material, 'utf8') : material
    this.#outer.set(sha256(Buffer.concat([this.#inner, message], BLOCK_BYTES + message.length)), BLOCK_BYTES)
    return sha256(this.#outer)
  }
}

/**
 * Constant-time check of a hex signature. A signature of the wrong length or
 * alphabet is rejected before comparing: the length of a SHA-256 MAC is public.
 * The alphabet is checked here because Node's hex decoding is not a check: it
 * reads a character above U+00FF by its low byte, so a re-spelled signature
 * would decode to the right bytes.
 */
export function verify (key: SignatureKey | string | Buffer, material: string | Buffer, signature: string): boolean {
  if (!HEX_SIGNATURE.test(signature)) return false
  const given = Buffer.from(signature, 'hex')
  if (given.length !== SIGNATURE_BYTES) return false
  const expected = key instanceof SignatureKey ? key.mac(material) : createHmac('sha256', key).update(material).digest()
  return timingSafeEqual(expected, given)
}

/**
 * What a GET is signed over: the path without the query, percent-decoded.
 * Returns undefined when the path is not valid percent-encoding.
 */
export function signedPath (rawUrl: string): string | undefined {
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  if (!path.includes('%')) return path
  try {
    return decodeURIComponent(path)
  } catch {
    return undefined
  }
}
