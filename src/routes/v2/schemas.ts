/**
 * What the v2 calls share: the error shape, the Bearer scheme's name in the
 * API description, ids, and the sealed-answer fields (docs/protocol.md, "Sealed
 * answers"): base64url without padding, in its one canonical spelling, of
 * exactly the sizes HPKE with X25519 and ChaCha20-Poly1305 gives.
 */
import { Type } from 'typebox'

export { PackageName, RequestId, Wait } from '../v1/schemas.js'

export const Detail = Type.Object({ detail: Type.Unknown({ description: 'What went wrong' }) }, { description: 'Error' })

export const errorReplies = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Detail]))

/** Telegram user ids: positive integers that a JSON number carries exactly. */
export const UserId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Telegram user id' })

/** `security` of the calls behind requireSession (the `bearer` scheme of plugins/openapi.ts). */
export const BEARER = [{ bearer: [] }]

/**
 * base64url without padding of exactly `bytes` bytes, in its canonical spelling: the
 * unused low bits of the last character are zero (so one value has one spelling,
 * as the SDK and the plugin refuse any other).
 */
export function base64urlOf (bytes: number): string {
  const full = Math.floor(bytes / 3) * 4
  switch (bytes % 3) {
    case 0: return `^[A-Za-z0-9_-]{${full}}$`
    case 1: return `^[A-Za-z0-9_-]{${full + 1}}[AQgw]$`
    default: return `^[A-Za-z0-9_-]{${full + 2}}[AEIMQUYcgkosw048]$`
  }
}

export const X25519_KEY_BYTES = 32
/** The padded package name (256 bytes) and the ChaCha20-Poly1305 tag (16). */
export const SEALED_CIPHERTEXT_BYTES = 256 + 16

export const PublicKey = Type.String({
  pattern: base64urlOf(X25519_KEY_BYTES),
  description: "The asker's one-use X25519 public key, base64url without padding (32 bytes): the request is then sealed"
})

export const SealedAnswer = Type.Object({
  enc: Type.String({ pattern: base64urlOf(X25519_KEY_BYTES), description: "HPKE's encapsulated key, base64url without padding (32 bytes)" }),
  ciphertext: Type.String({ pattern: base64urlOf(SEALED_CIPHERTEXT_BYTES), description: 'The package name zero-padded to 256 bytes, sealed; base64url without padding (272 bytes)' })
}, { additionalProperties: false, description: 'A sealed answer (HPKE base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305; info "whatclient/v2 answer", aad the request id)' })

/** Unix seconds when a request expires, `expiresInMs` from now (rounded up: by then it is gone). */
export function expiresAt (expiresInMs: number): number {
  return Math.ceil((Date.now() + Math.max(0, expiresInMs)) / 1000)
}

export const ExpiresAt = Type.Integer({ description: 'When the request expires, unix seconds' })
