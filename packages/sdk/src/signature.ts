/**
 * How a v1 call is signed: lowercase hex HMAC-SHA256, keyed with the shared
 * API_SECRET_KEY, over the raw POST body or the percent-decoded GET path.
 * Written once, here: the server imports it to check what clients send.
 */
import { createHmac, type KeyObject } from 'node:crypto'

export function sign (key: string | Buffer | KeyObject, material: string | Buffer): string {
  return createHmac('sha256', key).update(material).digest('hex')
}
