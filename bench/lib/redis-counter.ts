/**
 * A pass-through TCP proxy in front of Redis that counts the commands a
 * server sends (its round trips, by command name), parsing the RESP arrays of
 * the client-to-Redis stream. Unlike INFO commandstats it does not count the
 * commands Lua scripts run inside Redis, nor anyone else's commands: it counts
 * exactly what the servers behind it send. It adds a hop, so it is used for
 * counts only, never for a timed window.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

/** Counts RESP commands (arrays of bulk strings) in a byte stream fed in any chunks. */
export class RespCommandCounter {
  readonly counts = new Map<string, number>()
  #buffer: Buffer = Buffer.alloc(0)
  /** Bulk strings left in the current command; -1 between commands. */
  #left = -1
  #first = false

  feed (chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    let at = 0
    for (;;) {
      const eol = this.#buffer.indexOf('\r\n', at)
      if (eol === -1) break
      const line = this.#buffer.toString('latin1', at, eol)
      if (this.#left <= 0) {
        // A command: "*<n>" (or an inline command: a line of words).
        if (line.startsWith('*')) {
          this.#left = Number(line.slice(1))
          this.#first = true
          at = eol + 2
          if (this.#left <= 0) this.#left = -1
          continue
        }
        const name = line.trim().split(/\s+/)[0]
        if (name !== undefined && name !== '') this.#count(name)
        at = eol + 2
        continue
      }
      // "$<len>" then <len> bytes and CRLF.
      const length = Number(line.slice(1))
      const end = eol + 2 + length
      if (this.#buffer.length < end + 2) break
      if (this.#first) this.#count(this.#buffer.toString('latin1', eol + 2, end))
      this.#first = false
      this.#left--
      at = end + 2
    }
    this.#buffer = this.#buffer.subarray(at)
  }

  #count (name: string): void {
    const key = name.toUpperCase()
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }

  /** The counts so far, and zero from now. */
  take (): Record<string, number> {
    const out = Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]))
    this.counts.clear()
    return out
  }
}

export interface CountingProxy {
  /** A redis:// URL through the proxy (the target's credentials and database kept). */
  url: string
  counter: RespCommandCounter
  close: () => Promise<void>
}

export async function startCountingProxy (redisUrl: string): Promise<CountingProxy> {
  const target = new URL(redisUrl)
  const counter = new RespCommandCounter()
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) })
    sockets.add(client).add(upstream)
    client.on('data', (chunk: Buffer) => counter.feed(chunk))
    client.pipe(upstream).pipe(client)
    const end = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = new URL(redisUrl)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return {
    url: url.toString(),
    counter,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}
