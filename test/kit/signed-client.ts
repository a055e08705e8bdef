/**
 * The one signed HTTP client of the tests: calls a WhatClient server over a
 * real socket as a v1 field plugin does, signing with the server's key over
 * exactly the bytes it sends (a POST's body as given, a GET's percent-decoded
 * path without its query). Tests that must send bytes fetch will not use
 * raw-http.ts instead.
 */
import { sign } from '../../src/crypto/signature.js'

export interface CallOptions {
  /** The X-Signature to send instead of the right one; null sends none. */
  signature?: string | null
  signal?: AbortSignal
  /** More headers, beside X-Signature and Content-Type. */
  headers?: Record<string, string>
}

export interface PostOptions extends CallOptions {
  /** The Content-Type to send (application/json unless told); null sends none. */
  contentType?: string | null
}

export interface SignedClient {
  readonly url: string
  readonly key: string
  /** POST `body` (a string sent byte for byte, an object as pyJson writes it), signed over those bytes. */
  post: (path: string, body: string | object, init?: PostOptions) => Promise<Response>
  /** GET `path`, signed over its path without the query. */
  get: (path: string, init?: CallOptions) => Promise<Response>
}

/** A client of the server at `url` that signs with `key`; `headers` go with every call. */
export function signedClient (url: string, key: string, headers: Record<string, string> = {}): SignedClient {
  return {
    url,
    key,
    post (path, body, init = {}) {
      const text = typeof body === 'string' ? body : pyJson(body)
      const all: Record<string, string> = { ...headers, ...init.headers }
      if (init.contentType !== null) all['content-type'] = init.contentType ?? 'application/json'
      if (init.signature !== null) all['x-signature'] = init.signature ?? sign(key, text)
      // Bytes, not a string: fetch would add its own text/plain content type to a string.
      return fetch(url + path, { method: 'POST', body: Buffer.from(text), headers: all, signal: init.signal })
    },
    get (path, init = {}) {
      const all: Record<string, string> = { ...headers, ...init.headers }
      if (init.signature !== null) all['x-signature'] = init.signature ?? sign(key, signedPath(path))
      return fetch(url + path, { headers: all, signal: init.signal })
    }
  }
}

/** What a GET is signed over: its path, percent-decoded, without the query. */
export function signedPath (path: string): string {
  return decodeURIComponent(path.split('?')[0] as string)
}

/** A flat object as Python's json.dumps writes it (", " and ": "), as field plugins sign it. */
export function pyJson (value: object): string {
  return '{' + Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ') + '}'
}
