/**
 * Every HTTP server the app answers on, and how they listen.
 *
 * `localhost` names two addresses on most machines (127.0.0.1 and ::1). Given
 * that name, Fastify listens on the first and opens a plain server of its own
 * for each other one, without what the app puts on its server's events: the
 * task-poll fast path, graceful close, and the `{detail}` answers to CONNECT,
 * `Expect` and requests Node cannot read. So the app listens through Fastify
 * on the first address only, and the others get servers opened here, with
 * app.server's Node settings and the same setups (`each`), closed with it.
 * So `app.addresses()` lists only the first address; `httpServers.all` has
 * every server.
 */
import { lookup } from 'node:dns/promises'
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    httpServers: HttpServers
  }
}

type ServerSetup = (server: Server) => void

/** A server's 'request' listener. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void

/**
 * Puts `wrap(listener)` in place of `server`'s one 'request' listener, so that it sees
 * each request first (the fast path, the bound on pipelined calls). Throws unless there is
 * exactly one: two would both answer.
 */
export function wrapRequestListener (server: Server, wrap: (listener: RequestHandler) => RequestHandler): void {
  const listeners = server.listeners('request')
  if (listeners.length !== 1) throw new Error(`expected one request listener, found ${listeners.length}`)
  const listener = listeners[0] as RequestHandler
  server.removeListener('request', listener)
  server.on('request', wrap(listener))
}

/** Every address a name resolves to, as node:dns's lookup with `{ all: true }` gives them. */
export type LookupAll = (host: string) => Promise<Array<{ address: string }>>

const lookupAll: LookupAll = async (host) => await lookup(host, { all: true })

type Listener = (...args: unknown[]) => void

export class HttpServers {
  readonly #main: Server
  /** What app.server was made with (the options Node takes only when a server is made). */
  readonly #options: ServerOptions
  /** Fastify's clientError handler: Fastify puts it on app.server only, not on its own extra servers. */
  readonly #clientError: Listener[]
  readonly #setups: ServerSetup[] = []
  readonly #others: Server[] = []
  #stopped = false
  #closed: Promise<unknown> = Promise.resolve()

  /** `main`: app.server, as Fastify made it (before any setup). */
  constructor (main: Server, options: ServerOptions) {
    this.#main = main
    this.#options = options
    this.#clientError = main.listeners('clientError') as Listener[]
  }

  /** Whether the app has begun to close (no server is opened or listens after that). */
  get stopped (): boolean {
    return this.#stopped
  }

  /** app.server, then the servers opened here. */
  get all (): readonly Server[] {
    return [this.#main, ...this.#others]
  }

  /** Runs `setup` on app.server now, and on every server opened later. */
  each (setup: ServerSetup): void {
    this.#setups.push(setup)
    setup(this.#main)
    for (const server of this.#others) setup(server)
  }

  /** A server like app.server that answers with `handler` (Fastify's routing), set up as it is; not listening yet. */
  open (handler: Parameters<typeof createServer>[1]): Server {
    const main = this.#main
    const server = createServer(this.#options, handler)
    server.keepAliveTimeout = main.keepAliveTimeout
    server.requestTimeout = main.requestTimeout
    server.headersTimeout = main.headersTimeout
    server.timeout = main.timeout
    server.maxRequestsPerSocket = main.maxRequestsPerSocket
    for (const listener of this.#clientError) server.on('clientError', listener)
    for (const setup of this.#setups) setup(server)
    this.#others.push(server)
    return server
  }

  /** Closes and forgets a server opened here that could not listen. */
  drop (server: Server): void {
    const at = this.#others.indexOf(server)
    if (at !== -1) this.#others.splice(at, 1)
    // Never listening, but a Node 20 before 20.5 already runs its connection-check timer.
    server.close(() => {})
  }

  /**
   * Stops the servers opened here from taking connections (Node also closes their idle
   * ones), as Fastify does app.server's once the preClose hooks are done.
   */
  stopListening (): void {
    this.#stopped = true
    this.#closed = Promise.all(this.#others.map(async (server) => await new Promise((resolve) => server.close(resolve))))
  }

  /** Resolves once every connection of the servers opened here has closed. */
  async closed (): Promise<void> {
    await this.#closed
  }
}

/**
 * Listens on `host` and `port`: through Fastify on the first address of `localhost`
 * and on a server of ours for each other one; any other host as Fastify does.
 */
export async function listen (app: FastifyInstance, host: string, port: number, resolve: LookupAll = lookupAll): Promise<void> {
  if (host !== 'localhost') {
    await app.listen({ host, port })
    return
  }
  const addresses = [...new Set((await resolve(host)).map((a) => a.address))]
  const [first, ...others] = addresses
  if (first === undefined) throw new Error(`${host} resolves to no address`)
  const servers = app.httpServers
  // A close that began while the name was looked up (app.listen would still listen).
  if (servers.stopped) return
  await app.listen({ host: first, port })
  const bound = (app.server.address() as AddressInfo | null)?.port
  for (const address of others) {
    if (servers.stopped || bound === undefined) return
    const server = servers.open(app.routing)
    const url = `http://${address.includes(':') ? `[${address}]` : address}:${bound}`
    try {
      await new Promise<void>((resolve, reject) => {
        const stopped = (): void => { reject(new Error('closed before it listened')) }
        server.once('error', reject)
        // stopListening before 'listening': Node then never emits it.
        server.once('close', stopped)
        server.listen(bound, address, () => {
          server.off('error', reject)
          server.off('close', stopped)
          resolve()
        })
      })
    } catch (error) {
      if (servers.stopped) return
      // As Fastify does for its own extra servers: the app serves on the addresses it could take.
      servers.drop(server)
      app.log.warn({ err: { type: (error as Error).name, code: (error as NodeJS.ErrnoException).code } }, `could not also listen at ${url}`)
      continue
    }
    app.log.info(`Server listening at ${url}`)
  }
}
