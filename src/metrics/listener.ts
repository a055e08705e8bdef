/**
 * The /metrics listener: a bare node:http server on an address of its own
 * (METRICS_HOST:METRICS_PORT), apart from the public port, so that metrics are
 * public only if an operator makes that address public. It answers one path and
 * holds few connections: a scraper or two, never the plugins' traffic.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Metrics } from './metrics.js'

const MAX_CONNECTIONS = 32

export class MetricsListener {
  readonly #metrics: Metrics
  readonly #server: Server

  /** `failedAccept`: its 'error' listener (failed-accepts.ts). */
  constructor (metrics: Metrics, failedAccept: (this: Server, error: NodeJS.ErrnoException) => void) {
    this.#metrics = metrics
    this.#server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 30_000 }, (request, response) => {
      this.#answer(request, response)
    })
    this.#server.maxConnections = MAX_CONNECTIONS
    this.#server.on('error', failedAccept)
  }

  listen (host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(err)
      this.#server.once('error', failed)
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', failed)
        resolve(this.#server.address() as AddressInfo)
      })
    })
  }

  /** Where it listens, or null before listen() and after close(). */
  address (): AddressInfo | null {
    const address = this.#server.address()
    return address === null || typeof address === 'string' ? null : address
  }

  close (): Promise<void> {
    if (!this.#server.listening) return Promise.resolve()
    return new Promise((resolve) => {
      this.#server.close(() => resolve())
      // A scraper's keep-alive connection would hold the close for its whole idle time.
      this.#server.closeAllConnections()
    })
  }

  #answer (request: IncomingMessage, response: ServerResponse): void {
    const url = request.url ?? ''
    const q = url.indexOf('?')
    if ((q === -1 ? url : url.slice(0, q)) !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n')
      return
    }
    this.#metrics.exposition().then(({ contentType, body }) => {
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
      response.end(request.method === 'HEAD' ? undefined : body)
    }, () => {
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n')
    })
  }
}
