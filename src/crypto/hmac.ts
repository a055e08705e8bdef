/**
 * HMAC-SHA256 under one key, for the calls made on every request: RFC 2104's
 * H(key ^ opad | H(key ^ ipad | message)) over two one-shot hashes
 * (`crypto.hash`), with the key's pads made once. `createHmac` makes a native
 * object per call, and in a busy server that costs several times what a loop
 * shows: BENCHMARKS.md §18 measured 3-4 µs per v1 poll for its one signature
 * check.
 *
 * The key is kept only as its pads, in Buffers: their bytes live outside the
 * V8 heap, as a KeyObject's key does, so a heap snapshot holds neither
 * (test/crypto/hmac.test.ts takes one). Like a KeyObject's, they are in this
 * process's memory all the same. Node before 20.12 has no one-shot hash: there
 * each hash is a Hash object.
 */
import * as crypto from 'node:crypto'

/** SHA-256's block, in bytes: the length of an HMAC key's pads. */
const BLOCK_BYTES = 64
/** `crypto.hash`, read from the namespace: a named import of it would not load before Node 20.12. */
const hashOnce = crypto.hash as typeof crypto.hash | undefined
/** SHA-256 of `data`: one-shot where Node has it, else through a Hash object. */
const sha256: (data: Buffer) => Buffer = hashOnce !== undefined
  ? (data) => hashOnce('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest()

export class HmacKey {
  /** key ^ 0x36. */
  readonly #inner: Buffer
  /** key ^ 0x5c, then room for the inner hash. */
  readonly #outer = Buffer.alloc(BLOCK_BYTES + 32, 0x5c)

  /** `secret` as bytes, or a string as UTF-8; it is not kept (wipe it if it should not stay). */
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
  digest (material: string | Buffer): Buffer {
    const message = typeof material === 'string' ? Buffer.from(material, 'utf8') : material
    this.#outer.set(sha256(Buffer.concat([this.#inner, message], BLOCK_BYTES + message.length)), BLOCK_BYTES)
    return sha256(this.#outer)
  }
}
