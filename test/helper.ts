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

export interface TestBuildOptions extends BuildOptions {
  /** Runs after the app is built and before it listens (to add hooks). */
  beforeListen?: (app: FastifyInstance) => void
}

export async function build (env: Record<string, string> = {}, { beforeListen, ...options }: TestBuildOptions = {}): Promise<TestServer> {
  const config = loadConfig({ API_SECRET_KEY: TEST_KEY, LOG_LEVEL: 'info', ...env })
  const logs: string[] = []
  const logStream = new Writable({
    write (chunk, _encoding, done) {
      logs.push(String(chunk))
      done()
    }
  })
  const app = await buildApp(config, { logStream, ...options })
  beforeListen?.(app)
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

/**
 * Holds replies in flight, as a slow store would, once armed: an onSend hook
 * (install it with `build(env, { beforeListen: (app) => gate.install(app) })`)
 * that waits until `release()`. `held` counts the replies it has held.
 */
export class ReplyGate {
  armed = false
  held = 0
  #release = (): void => {}
  readonly #open = new Promise<void>((resolve) => { this.#release = resolve })

  install (app: FastifyInstance): void {
    app.addHook('onSend', async (_request, _reply, payload) => {
      if (!this.armed) return payload
      this.held++
      await this.#open
      return payload
    })
  }

  release (): void {
    this.#release()
  }
}
