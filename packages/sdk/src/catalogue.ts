/**
 * The server's package -> display name catalogue (`GET /v2/catalogue`), which
 * names the app in a sealed answer: the server never sees that name, so the
 * asker's client names it. Cached as HTTP says: kept for the `max-age` the
 * server gave, then asked again with `If-None-Match`, which costs a 304 and no
 * body while it has not changed.
 */
import { untilAborted } from './backoff.js'
import type { HttpCore } from './http.js'
import { UNKNOWN_CLIENT } from './protocol.js'

export interface Catalogue {
  /** Android package name -> display name. */
  readonly clients: ReadonlyMap<string, string>
  /** The name of any package not listed. */
  readonly unknown: string
  /** The display name of `packageName`. */
  nameOf: (packageName: string) => string
}

export class CatalogueCache {
  readonly #http: HttpCore
  #catalogue: Catalogue | undefined
  #etag: string | undefined
  #freshUntil = 0
  #inFlight: Promise<Catalogue> | undefined

  constructor (http: HttpCore) {
    this.#http = http
  }

  /** The last catalogue read, however old, if any (for when the server cannot be reached). */
  get stale (): Catalogue | undefined {
    return this.#catalogue
  }

  /** The catalogue, from the cache while fresh, else revalidated; concurrent callers share one call. */
  async get (signal?: AbortSignal): Promise<Catalogue> {
    if (this.#catalogue !== undefined && Date.now() < this.#freshUntil) return this.#catalogue
    this.#inFlight ??= this.#fetch(signal).finally(() => { this.#inFlight = undefined })
    // A fetch another caller began: this caller's signal (a wait's deadline) still ends its own wait.
    return await untilAborted(this.#inFlight, signal)
  }

  async #fetch (signal: AbortSignal | undefined): Promise<Catalogue> {
    const headers: Record<string, string> = this.#etag === undefined || this.#catalogue === undefined ? {} : { 'if-none-match': this.#etag }
    const reply = await this.#http.send({ method: 'GET', path: '/v2/catalogue', headers, signal })
    const maxAgeMs = maxAgeSeconds(reply.headers.get('cache-control')) * 1000
    if (reply.status === 304 && this.#catalogue !== undefined) {
      this.#freshUntil = Date.now() + maxAgeMs
      return this.#catalogue
    }
    const catalogue = parseCatalogue(reply.body)
    this.#catalogue = catalogue
    this.#etag = reply.headers.get('etag') ?? undefined
    this.#freshUntil = Date.now() + maxAgeMs
    return catalogue
  }
}

/**
 * The catalogue in a reply, keeping only string -> string entries: whatever a
 * broken server sends, a lookup gives a string.
 */
function parseCatalogue (body: unknown): Catalogue {
  const { clients, unknown } = (typeof body === 'object' && body !== null ? body : {}) as { clients?: unknown, unknown?: unknown }
  const names = new Map<string, string>()
  if (typeof clients === 'object' && clients !== null) {
    for (const [packageName, name] of Object.entries(clients)) if (typeof name === 'string') names.set(packageName, name)
  }
  const other = typeof unknown === 'string' ? unknown : UNKNOWN_CLIENT
  return Object.freeze({ clients: names, unknown: other, nameOf: (packageName: string) => names.get(packageName) ?? other })
}

/** `max-age` of a Cache-Control header in seconds; 0 (revalidate every time) without one or with no-cache/no-store. */
function maxAgeSeconds (header: string | null): number {
  if (header === null || /(^|,)\s*(no-cache|no-store)\s*(,|$)/i.test(header)) return 0
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,9})"?\s*(?:,|$)/i.exec(header)
  return match === null ? 0 : Number(match[1])
}
