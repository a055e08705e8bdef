/**
 * A minimal HTTP/1.1 keep-alive client for the flow driver: one socket, one
 * request at a time, replies read by Content-Length. It exists to keep the
 * load generator light: on this machine the generator shares two cores with
 * the server and Redis, and node:http's client (agent, ClientRequest,
 * IncomingMessage, a dozen listeners per call) cost about as much CPU per
 * resolution as the server itself, so the server queued behind its own load
 * generator. The server sees the same bytes a node:http client sends
 * (request line, Host, the signature header, a JSON body with its length).
 *
 * Not a general client: no chunked replies (the server sends none to these
 * calls; one fails the call), no pipelining, no redirects.
 */
import { connect, type Socket } from 'node:net'

export interface RawReply {
  status: number
  body: string
}

const HEAD_END = Buffer.from('\r\n\r\n')

export class RawConnection {
  readonly #host: string
  readonly #port: number
  #socket: Socket | undefined
  #connecting: Promise<Socket> | undefined
  /** Bytes of the reply read so far. */
  #buffer: Buffer = Buffer.alloc(0)
  #pending: { resolve: (reply: RawReply) => void, reject: (err: Error) => void } | undefined
  #closed = false

  constructor (host: string, port: number) {
    this.#host = host
    this.#port = port
  }

  /** Connects now (it would on the first request anyway). */
  async open (): Promise<void> {
    await this.#connect()
  }

  /**
   * Sends `head` (request line and headers, each line ending in CRLF, without
   * the blank line) and `body`, and resolves with the reply. Reconnects first
   * when the server closed the connection since the last reply.
   */
  async request (head: string, body?: string): Promise<RawReply> {
    if (this.#pending !== undefined) throw new Error('one request at a time')
    const socket = await this.#connect()
    return await new Promise<RawReply>((resolve, reject) => {
      this.#pending = { resolve, reject }
      socket.write(body === undefined ? `${head}\r\n` : `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
  }

  /** Closes the socket; a request in flight fails. */
  close (): void {
    this.#closed = true
    this.#socket?.destroy()
    this.#fail(new Error('closed'))
  }

  #connect (): Promise<Socket> {
    if (this.#closed) return Promise.reject(new Error('closed'))
    if (this.#socket !== undefined) return Promise.resolve(this.#socket)
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.#host, port: this.#port, noDelay: true })
      socket.once('connect', () => {
        this.#connecting = undefined
        if (this.#closed) { socket.destroy(); reject(new Error('closed')); return }
        this.#socket = socket
        resolve(socket)
      })
      // A socket let go of (after a reply that closed it) no longer speaks for this connection.
      socket.on('data', (chunk: Buffer) => { if (this.#socket === socket) this.#read(chunk) })
      socket.on('error', (err) => {
        if (this.#socket === undefined && this.#connecting !== undefined) { this.#connecting = undefined; reject(err) }
      })
      socket.on('close', () => {
        if (this.#socket !== socket) return
        this.#socket = undefined
        this.#buffer = Buffer.alloc(0)
        this.#fail(new Error('connection closed'))
      })
    })
    return this.#connecting
  }

  #fail (err: Error): void {
    const pending = this.#pending
    this.#pending = undefined
    pending?.reject(err)
  }

  #read (chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    const buffer = this.#buffer
    const headEnd = buffer.indexOf(HEAD_END)
    if (headEnd === -1) return
    // (With the CRLF that ends the last header line, so that every line ends in one.)
    const head = buffer.toString('latin1', 0, headEnd + 2)
    const status = Number(head.slice(9, 12))
    const lower = head.toLowerCase()
    const at = lower.indexOf('\r\ncontent-length:')
    if (at === -1) {
      this.#socket?.destroy()
      this.#fail(new Error(`reply ${status} without Content-Length`))
      return
    }
    const length = Number.parseInt(lower.slice(at + 17, lower.indexOf('\r\n', at + 17)), 10)
    const bodyStart = headEnd + 4
    if (buffer.length < bodyStart + length) return
    const body = buffer.toString('utf8', bodyStart, bodyStart + length)
    this.#buffer = buffer.length === bodyStart + length ? Buffer.alloc(0) : buffer.subarray(bodyStart + length)
    // A reply that closes the connection: the next request connects again.
    if (lower.includes('\r\nconnection: close')) {
      const socket = this.#socket
      this.#socket = undefined
      socket?.end()
    }
    const pending = this.#pending
    this.#pending = undefined
    pending?.resolve({ status, body })
  }
}
