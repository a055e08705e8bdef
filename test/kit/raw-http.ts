/**
 * HTTP over a bare TCP socket, for what fetch will not send: hostile request
 * lines, methods, framing and header sizes, several calls on one kept-alive
 * connection. `rawRequest` sends exactly the given bytes on a fresh
 * connection and reads until the server closes it or a response is complete;
 * `rawConnection` keeps a connection for the test to write on at will.
 */
import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** The response as received, for failure messages. */
  text: string
}

/** Sends `bytes`, resolves with the first response (or status 0 if the server closed without one). */
export function rawRequest (url: string, bytes: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let received = Buffer.alloc(0)
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parseResponse(String(received)))
    }
    const timer = setTimeout(() => {
      settled = true
      socket.destroy()
      reject(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(String(received))}`))
    }, timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (complete(received)) finish()
    })
    socket.on('error', () => finish())
    socket.on('close', () => finish())
    socket.write(bytes)
  })
}

/** A response is complete when its Content-Length worth of body is in (or it has no body). */
function complete (bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return false
  const head = String(bytes.subarray(0, end))
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)
  if (length !== null) return bytes.length - end - 4 >= Number(length[1])
  return /^HTTP\/1\.1 (204|304)/.test(head)
}

/** One response as received (status 0 when it holds no complete head). */
export function parseResponse (text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return { status: 0, headers: {}, body: '', text }
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4), text }
}

/** Two responses one after the other on one connection, as received. */
export function splitResponses (text: string): [RawResponse, RawResponse] {
  const second = text.indexOf('HTTP/1.1', 1)
  if (second === -1) return [parseResponse(text), parseResponse('')]
  return [parseResponse(text.slice(0, second)), parseResponse(text.slice(second))]
}

export interface RawConnection {
  /** Writes `bytes` as they are. */
  write: (bytes: string | Buffer) => void
  /** What the server has sent so far, as text. */
  received: () => string
  /** Resolves with all the server sent once the connection is closed. */
  closed: Promise<string>
  /** Drops the connection from this side. */
  destroy: () => void
}

/** A connection to the server at `url` that the test writes on and reads from. */
export function rawConnection (url: string): RawConnection {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  let received = ''
  socket.on('data', (chunk) => { received += String(chunk) })
  // A reset connection also closes: the test reads what arrived before it.
  socket.on('error', () => {})
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)))
  return { write: (bytes) => { socket.write(bytes) }, received: () => received, closed, destroy: () => socket.destroy() }
}

/** A request line and headers, CRLF-terminated, with `Connection: close` unless told otherwise. */
export function requestText (method: string, target: string, headers: Record<string, string> = {}, body = ''): string {
  const all: Record<string, string> = { host: 'localhost', connection: 'close', ...headers }
  if (body !== '' && all['content-length'] === undefined && all['transfer-encoding'] === undefined) all['content-length'] = String(Buffer.byteLength(body))
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`
}

/** Asserts the one error shape: a JSON object with exactly a `detail`, a string or (422) a list. */
export function detailOf (response: RawResponse): unknown {
  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) {
    throw new Error(`not JSON: ${response.text}`)
  }
  const json = JSON.parse(response.body) as Record<string, unknown>
  if (Object.keys(json).join() !== 'detail') throw new Error(`not the {"detail"} shape: ${response.text}`)
  return json.detail
}
