/**
 * The v1 signature check of the bare node:http ceilings (bench/ceiling-server.ts,
 * bench/held-ceiling-server.ts): the HMAC of the request's decoded path,
 * compared in constant time. Only what an idle or held poll needs, so that what
 * the ceilings cost is what node:http and the check cost.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

// A KeyObject, as the server's own check uses: from Node 22 an HMAC keyed with a plain
// Buffer costs several times more (3 vs 9-14 us per call measured here on Node 24.21,
// the same on Node 20), which would put a ceiling below the server it is meant to bound.
export const ceilingKey = (): KeyObject => createSecretKey(Buffer.from(process.env.API_SECRET_KEY ?? '', 'utf8'))

/**
 * Whether `req` carries `X-Signature`: the HMAC-SHA256 of its decoded path (no
 * query), in hex. A path that is not valid percent-encoding is not signed.
 */
export function hasSignedPath (req: IncomingMessage, key: KeyObject): boolean {
  const url = req.url ?? ''
  const q = url.indexOf('?')
  let path: string
  try {
    path = decodeURIComponent(q === -1 ? url : url.slice(0, q))
  } catch {
    return false
  }
  const given = Buffer.from(String(req.headers['x-signature'] ?? ''), 'hex')
  const expected = createHmac('sha256', key).update(path).digest()
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The 403 both ceilings give a request without a valid signature. */
export function refuseSignature (res: ServerResponse): void {
  res.writeHead(403, { 'content-type': 'application/json' }).end('{"detail":"Invalid signature."}')
}
