/**
 * HMAC-SHA256 under one key, for the calls made on every request: RFC 2104's
 * H(key ^ opad | H(key ^ ipad | message)) over two one-shot hashes
 * (`crypto.hash`), with the key's pads made once. `createHmac` makes a native
 * object per call, and in a busy server that costs several times what a loop
 * shows: BENCHMARKS.md §18 measured 3-4 µs per v1 poll for its one signature
 * check. (The stores' keyed hashes keep createHmac with a KeyObject: there it
 * measured no faster.)
 *
 * The key is kept only as its pads, in the native memory of an ArrayBuffer of
 * its own (V8 would keep a small typed array's bytes on its heap;
 * test/crypto/hmac-memory.test.ts), and the block that joins the inner pad to
 * a message is wiped after each call. Its one user, the v1 key, is a string in
 * the heap anyway (the setting); this is so that HmacKey itself adds no copy
 * of a key there. Node before 20.12 has no one-shot hash: there each hash is a
 * Hash object.
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
  /** key ^ 0x36 (64 bytes), then key ^ 0x5c (64) and room for the inner hash (32), in native memory. */
  readonly #pads = Buffer.from(new ArrayBuffer(3 * BLOCK_BYTES - 32))
  /** The inner pad: a view of #pads. */
  readonly #inner = this.#pads.subarray(0, BLOCK_BYTES)
  /** The outer pad and the inner hash after it: a view of #pads. */
  readonly #outer = this.#pads.subarray(BLOCK_BYTES)

  /** `secret` as bytes, or a string as UTF-8; it is not kept (wipe it if it should not stay). */
  constructor (secret: string | Buffer) {
    const given = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
    // A key longer than the block is hashed first (RFC 2104).
    const key = given.length > BLOCK_BYTES ? sha256(given) : given
    // Past a shorter key the pads stay as they are: the key is padded with zeros (RFC 2104).
    this.#inner.fill(0x36)
    this.#outer.fill(0x5c, 0, BLOCK_BYTES)
    for (let i = 0; i < key.length; i++) {
      this.#inner[i] = (this.#inner[i] as number) ^ (key[i] as number)
      this.#outer[i] = (this.#outer[i] as number) ^ (key[i] as number)
    }
    // The copies made here are wiped (a long key's hash, a string's bytes); a Buffer given is the caller's.
    if (key !== given) key.fill(0)
    if (given !== secret) given.fill(0)
  }

  /** HMAC-SHA256 of `material` (a string as UTF-8): a new Buffer every call. */
  digest (material: string | Buffer): Buffer {
    const message = typeof material === 'string' ? Buffer.from(material, 'utf8') : material
    const block = Buffer.concat([this.#inner, message], BLOCK_BYTES + message.length)
    this.#outer.set(sha256(block), BLOCK_BYTES)
    // A pooled slice: it would otherwise keep a copy of the inner pad until the pool is reused.
    block.fill(0, 0, BLOCK_BYTES)
    return sha256(this.#outer)
  }
}
