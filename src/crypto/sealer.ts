/**
 * At-rest protection for what the store holds between calls: AES-256-GCM
 * sealing, and keyed hashes that stand in for ids wherever a lookup key is
 * needed, so neither memory nor Redis holds a user id, request id or answer in
 * clear. Derives separate sub-keys for the cipher and the hash from one secret.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomFillSync, type KeyObject, createSecretKey } from 'node:crypto'

const IV_BYTES = 12
const TAG_BYTES = 16
/** IVs drawn at a time: one randomBytes(12) per seal cost about as much as the rest of the seal. */
const IVS_PER_FILL = 256

/**
 * Fresh random IVs, drawn from the CSPRNG a few kilobytes at a time. Every IV
 * is handed out once: the pool is refilled before any byte of it is reused.
 * (IVs are public, so their pool is no secret in the heap.)
 */
const ivPool = Buffer.alloc(IV_BYTES * IVS_PER_FILL)
let ivNext = ivPool.length

/** The next unused IV: a view into the pool, valid until the next call (seal copies it at once). */
function nextIv (): Buffer {
  if (ivNext === ivPool.length) {
    randomFillSync(ivPool)
    ivNext = 0
  }
  const iv = ivPool.subarray(ivNext, ivNext + IV_BYTES)
  ivNext += IV_BYTES
  return iv
}

export class Sealer {
  readonly #cipherKey: KeyObject
  readonly #hashKey: KeyObject

  /** `secret` is at least 32 random bytes; a new random one when omitted. */
  constructor (secret: Buffer = randomBytes(32)) {
    if (secret.length < 32) throw new RangeError('the sealing secret must be at least 32 bytes')
    this.#cipherKey = createSecretKey(createHmac('sha256', secret).update('whatclient seal v1').digest())
    this.#hashKey = createSecretKey(createHmac('sha256', secret).update('whatclient hash v1').digest())
  }

  /**
   * Encrypts `plaintext`, bound to `context` (authenticated, not stored), and
   * returns iv | tag | ciphertext as a latin1 string: one compact heap string
   * per value instead of a Buffer object.
   */
  seal (plaintext: string, context: string): string {
    const iv = nextIv()
    const cipher = createCipheriv('aes-256-gcm', this.#cipherKey, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(context))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('latin1')
  }

  /** Returns the plaintext, or undefined when the value was not sealed by this key and context. */
  open (sealed: string, context: string): string | undefined {
    const bytes = Buffer.from(sealed, 'latin1')
    if (bytes.length < IV_BYTES + TAG_BYTES) return undefined
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#cipherKey, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      const plaintext = decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES))
      // GCM yields everything from update; final only checks the tag (and throws when it fails).
      decipher.final()
      return plaintext.toString('utf8')
    } catch {
      return undefined
    }
  }

  /**
   * A 128-bit keyed hash (base64url, 22 chars) of `value`: a lookup key that
   * names nobody. HMAC with a KeyObject on purpose: the key then lives outside
   * the JavaScript heap, so a heap snapshot holds the hashes but not the means
   * to test a guessed user id against them. (A one-shot SHA-256 over a key
   * string would be ~2 µs faster per poll, and would put the key in the heap.
   * The v1 check's HmacKey, pads in native memory, was tried here too and
   * measured no faster in the Redis full flow: BENCHMARKS.md §18.)
   */
  hash (value: string): string {
    return createHmac('sha256', this.#hashKey).update(value).digest().subarray(0, 16).toString('base64url')
  }
}
