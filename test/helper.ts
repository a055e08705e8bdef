/**
 * Starts a real app on a free loopback port, with captured logs, and gives
 * tests a signed HTTP client that sends exact bytes over a real socket.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { sign } from '../src/crypto/signature.js'

export const TEST_KEY = 'lainapi.gay'

export interface TestServer {
  app: FastifyInstance
  url: string
  key: string
  /** Every log line the server wrote, as text. */
  logs: string[]
  /** POST `body` (sent byte for byte) signed over those bytes, unless `signature` is given. */
  post (path: string, body: string | object, init?: { signature?: string | null, contentType?: string | null }): Promise<Response>
  /** GET `path` signed over its path without the query, unless `signature` is given. */
  get (path: string, init?: { signature?: string | null, signal?: AbortSignal }): Promise<Response>
  close (): Promise<void>
}

export async function build (env: Record<string, string> = {}, options: BuildOptions = {}): Promise<TestServer> {
  const config = loadConfig({ API_SECRET_KEY: TEST_KEY, LOG_LEVEL: 'info', ...env })
  const logs: string[] = []
  const logStream = new Writable({
    write (chunk, _encoding, done) {
      logs.push(String(chunk))
      done()
    }
  })
  const app = await buildApp(config, { logStream, ...options })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const url = `http://127.0.0.1:${address.port}`
  const key = config.apiSecretKey
  return {
    app,
    url,
    key,
    logs,
    post (path, body, init = {}) {
      const text = typeof body === 'string' ? body : pyJson(body)
      const headers: Record<string, string> = {}
      if (init.contentType !== null) headers['content-type'] = init.contentType ?? 'application/json'
      if (init.signature !== null) headers['x-signature'] = init.signature ?? sign(key, text)
      // Bytes, not a string: fetch would add its own text/plain content type to a string.
      return fetch(url + path, { method: 'POST', body: Buffer.from(text), headers })
    },
    get (path, init = {}) {
      const headers: Record<string, string> = {}
      if (init.signature !== null) headers['x-signature'] = init.signature ?? sign(key, decodeURIComponent(path.split('?')[0] as string))
      return fetch(url + path, { headers, signal: init.signal })
    },
    close: () => app.close()
  }
}

/** A flat object as Python's json.dumps writes it (", " and ": "), as field plugins sign it. */
export function pyJson (value: object): string {
  return '{' + Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ') + '}'
}

export { setTimeout as sleep } from 'node:timers/promises'
