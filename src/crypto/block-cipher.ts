/**
 * AES over single 16-byte blocks on a context made once: ECB keeps no state
 * between blocks, so one context serves every call with a single native
 * `update`, where a cipher with an IV (or an HMAC) needs a new native object
 * per call. The session tokens and the id permutation are built on it.
 */
import { createCipheriv, createDecipheriv, type Cipher, type Decipher, type KeyObject } from 'node:crypto'

export const BLOCK_BYTES = 16

/** An AES-ECB context without padding for `key` (128 or 256 bits): one block in, one block out. */
export function blockCipher (key: KeyObject, direction: 'encrypt'): Cipher
export function blockCipher (key: KeyObject, direction: 'decrypt'): Decipher
export function blockCipher (key: KeyObject, direction: 'encrypt' | 'decrypt'): Cipher | Decipher {
  const algorithm = `aes-${(key.symmetricKeySize ?? 0) * 8}-ecb`
  const context = direction === 'encrypt' ? createCipheriv(algorithm, key, null) : createDecipheriv(algorithm, key, null)
  context.setAutoPadding(false)
  return context
}
