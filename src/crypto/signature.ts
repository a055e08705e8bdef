/**
 * v1 request signatures: lowercase hex HMAC-SHA256 keyed with the shared
 * API_SECRET_KEY over the raw POST body, or over the percent-decoded GET path.
 * Signing is the SDK's (one definition for clients and server); checking is here.
 */
import { timingSafeEqual } from 'node:crypto'
import type { HmacKey } from './hmac.js'

export { sign } from 'whatclient-sdk'

const SIGNATURE_BYTES = 32
const HEX_SIGNATURE = /^[0-9a-fA-F]{64}$/

/**
 * Constant-time check of a hex signature. A signature of the wrong length or
 * alphabet is rejected before comparing: the length of a SHA-256 MAC is public.
 * The alphabet is checked here because Node's hex decoding is not a check: it
 * reads a character above U+00FF by its low byte, so a re-spelled signature
 * would decode to the right bytes.
 */
export function verify (key: HmacKey, material: string | Buffer, signature: string): boolean {
  if (!HEX_SIGNATURE.test(signature)) return false
  const given = Buffer.from(signature, 'hex')
  if (given.length !== SIGNATURE_BYTES) return false
  return timingSafeEqual(key.digest(material), given)
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
