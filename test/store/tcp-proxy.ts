/**
 * A TCP proxy in front of a Redis, for fault tests: it can cut a reply in
 * the middle (the command ran, its caller never hears), cut the connection
 * that subscribed to pub/sub, hold back what Redis sends that connection,
 * silence it or the command connections (nothing passes either way, and
 * nothing closes: a half-open socket), and turn new connections away for a
 * while. It also counts the commands that went through it, by name, the
 * connections it passed on and those that subscribed.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

interface Link {
  client: Socket
  server: Socket
  /** Whether this connection sent SUBSCRIBE (the pub/sub one). */
  subscribed: boolean
  /** Set when a command carrying the armed marker went out: its reply is cut. */
  cutNextReply: boolean
  /** What Redis sent this connection while the proxy held it back. */
  heldBack: Buffer[]
  /** Nothing passes on this connection any more, either way (and it stays open). */
  silent: boolean
}

export class TcpProxy {
  readonly #server: Server
  readonly #links = new Set<Link>()
  #marker: string | undefined
  #refusingUntil = 0
  #holdingBack = false
  #subscribed = 0
  #connections = 0
  /** Every command's bytes sent through, as latin1 text (tests send little). */
  #sent = ''
  readonly port: number

  private constructor (server: Server, port: number) {
    this.#server = server
    this.port = port
  }

  static async start (targetPort: number): Promise<TcpProxy> {
    const connections: Socket[] = []
    let accept = (client: Socket): void => { connections.push(client) }
    const server = createServer((client) => accept(client))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port)
    accept = (client) => proxy.#accept(client, targetPort)
    for (const client of connections) accept(client)
    return proxy
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** The next command whose bytes contain `marker` runs in Redis, and half its reply arrives before the connection drops. */
  cutReplyTo (marker: string): void {
    this.#marker = marker
  }

  /** Drops the pub/sub connection, and turns every new connection away for `ms`. */
  cutSubscriber (ms: number): void {
    this.#refusingUntil = Date.now() + ms
    for (const link of this.#links) if (link.subscribed) this.#drop(link)
  }

  /** Silences the pub/sub connections open now: they stay open, and nothing passes either way. */
  silenceSubscriber (): void {
    for (const link of this.#links) if (link.subscribed) link.silent = true
  }

  /** The same of the command connections (those that did not subscribe) open now. */
  silenceCommands (): void {
    for (const link of this.#links) if (!link.subscribed) link.silent = true
  }

  /** Holds back what Redis sends the pub/sub connection (wake-ups) until `releaseSubscriber`. */
  holdSubscriber (): void {
    this.#holdingBack = true
  }

  /** Sends on what was held back, in order, and stops holding back. */
  releaseSubscriber (): void {
    this.#holdingBack = false
    for (const link of this.#links) {
      for (const chunk of link.heldBack.splice(0)) link.client.write(chunk)
    }
  }

  /** How many connections the proxy has passed on to Redis so far. */
  get connections (): number {
    return this.#connections
  }

  /** How many connections have subscribed through the proxy so far. */
  get subscriptions (): number {
    return this.#subscribed
  }

  /** How many `name` commands (EVALSHA, PUBLISH, ...) went through so far. */
  sent (name: string): number {
    return this.#sent.match(new RegExp(`\\r\\n${name}\\r\\n`, 'gi'))?.length ?? 0
  }

  async close (): Promise<void> {
    for (const link of this.#links) this.#drop(link)
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #accept (client: Socket, targetPort: number): void {
    if (Date.now() < this.#refusingUntil) {
      client.destroy()
      return
    }
    const server = connect(targetPort, '127.0.0.1')
    this.#connections++
    const link: Link = { client, server, subscribed: false, cutNextReply: false, heldBack: [], silent: false }
    this.#links.add(link)
    client.on('data', (chunk: Buffer) => {
      if (link.silent) return
      const text = chunk.toString('latin1')
      if (/SUBSCRIBE/i.test(text) && !link.subscribed) {
        link.subscribed = true
        this.#subscribed++
      }
      this.#sent += text
      if (this.#marker !== undefined && text.includes(this.#marker)) {
        this.#marker = undefined
        link.cutNextReply = true
      }
      server.write(chunk)
    })
    server.on('data', (chunk: Buffer) => {
      if (link.silent) return
      if (link.subscribed && this.#holdingBack) {
        link.heldBack.push(chunk)
        return
      }
      if (!link.cutNextReply) {
        client.write(chunk)
        return
      }
      client.write(chunk.subarray(0, Math.floor(chunk.length / 2)), () => this.#drop(link))
    })
    for (const socket of [client, server]) {
      socket.on('error', () => this.#drop(link))
      socket.on('close', () => this.#drop(link))
    }
  }

  #drop (link: Link): void {
    this.#links.delete(link)
    link.client.destroy()
    link.server.destroy()
  }
}
