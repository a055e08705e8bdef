/**
 * "Try it out" on /docs for the signed v1 calls. The Authorize dialog puts
 * what the user typed (the server's key) into the X-Signature header; before
 * each request leaves the page, `signDocsRequest` replaces it with the HMAC
 * that the server checks, so the key itself is never sent. It uses Web Crypto
 * where the page has it (https, localhost) and a plain SHA-256 otherwise (a
 * page served over http from another address has no Web Crypto).
 *
 * `signDocsRequest` runs in the browser: the page receives its source
 * (`toString()`), so it must be self-contained: no imports, nothing from this
 * module's scope, only what browsers and Node both have (TextEncoder, URL,
 * crypto.subtle when present). The tests run the very source that is served.
 */

/** What Swagger UI hands its request interceptor (the fields used here). */
export interface DocsRequest {
  url: string
  method: string
  headers: Record<string, string>
  body?: unknown
}

export async function signDocsRequest (request: DocsRequest): Promise<DocsRequest> {
  const header = Object.keys(request.headers).find((name) => name.toLowerCase() === 'x-signature')
  const key = header === undefined ? '' : request.headers[header]
  // Unsigned calls (the spec itself, /healthz) and an empty key (not authorized) go as they are.
  if (header === undefined || key === undefined || key === '') return request

  const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))
  /** SHA-256 (FIPS 180-4); constants from the square and cube roots of the first primes. */
  const sha256 = (message: Uint8Array): Uint8Array => {
    const primes: number[] = []
    for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n)
    const fraction = (x: number): number => ((x - Math.floor(x)) * 2 ** 32) >>> 0
    const k = primes.map((p) => fraction(Math.cbrt(p)))
    const h = primes.slice(0, 8).map((p) => fraction(Math.sqrt(p)))
    const padded = new Uint8Array(Math.ceil((message.length + 9) / 64) * 64)
    padded.set(message)
    padded[message.length] = 0x80
    const view = new DataView(padded.buffer)
    view.setUint32(padded.length - 8, Math.floor(message.length / 2 ** 29))
    view.setUint32(padded.length - 4, (message.length * 8) >>> 0)
    const w = new Array<number>(64)
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let t = 0; t < 64; t++) {
        if (t < 16) {
          w[t] = view.getUint32(offset + t * 4)
        } else {
          const a = w[t - 15] as number
          const b = w[t - 2] as number
          const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)
          const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10)
          w[t] = ((w[t - 16] as number) + s0 + (w[t - 7] as number) + s1) >>> 0
        }
      }
      let [a, b, c, d, e, f, g, hh] = h as [number, number, number, number, number, number, number, number]
      for (let t = 0; t < 64; t++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (k[t] as number) + (w[t] as number)) >>> 0
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0
        hh = g
        g = f
        f = e
        e = (d + t1) >>> 0
        d = c
        c = b
        b = a
        a = (t1 + t2) >>> 0
      }
      const state = [a, b, c, d, e, f, g, hh]
      for (let i = 0; i < 8; i++) h[i] = ((h[i] as number) + (state[i] as number)) >>> 0
    }
    const digest = new Uint8Array(32)
    const out = new DataView(digest.buffer)
    h.forEach((word, i) => out.setUint32(i * 4, word))
    return digest
  }
  const hmac = async (secret: Uint8Array, message: Uint8Array): Promise<Uint8Array> => {
    const subtle = globalThis.crypto?.subtle
    if (subtle !== undefined) {
      const cryptoKey = await subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
      return new Uint8Array(await subtle.sign('HMAC', cryptoKey, message))
    }
    const block = new Uint8Array(64)
    block.set(secret.length > 64 ? sha256(secret) : secret)
    const inner = new Uint8Array(64 + message.length)
    const outer = new Uint8Array(64 + 32)
    for (let i = 0; i < 64; i++) {
      inner[i] = (block[i] as number) ^ 0x36
      outer[i] = (block[i] as number) ^ 0x5c
    }
    inner.set(message, 64)
    outer.set(sha256(inner), 64)
    return sha256(outer)
  }

  const encoder = new TextEncoder()
  let material: string
  if (request.method.toUpperCase() === 'POST') {
    // The signature covers the bytes sent: send exactly the text that is signed.
    const body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : JSON.stringify(request.body)
    request.body = body
    material = body
  } else {
    material = decodeURIComponent(new URL(request.url, 'http://docs.invalid').pathname)
  }
  const signature = await hmac(encoder.encode(key), encoder.encode(material))
  request.headers[header] = Array.from(signature, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return request
}

/** The script the docs page loads: it makes the signer available to Swagger UI's interceptor. */
export const DOCS_SIGNING_SCRIPT = `window.whatclientSignRequest = ${signDocsRequest.toString()};\n`

/** Swagger UI's request interceptor, sent to the page as source: it defers to the script above. */
export const requestInterceptor = (request: Record<string, any>): Promise<Record<string, any>> =>
  (globalThis as unknown as { whatclientSignRequest: (r: Record<string, any>) => Promise<Record<string, any>> }).whatclientSignRequest(request)
