/**
 * HTTP over a bare TCP socket, for what fetch will not send: hostile request
 * lines, methods, framing and header sizes. Each call sends exactly the given
 * bytes on a fresh connection and reads until the server closes it or a
 * response is complete.
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
      resolve(parse(received))
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

function parse (bytes: Buffer): RawResponse {
  const text = String(bytes)
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
