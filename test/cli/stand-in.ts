/**
 * A stand-in WhatClient server made with node:http, for what the real one
 * will not do: answer with escape codes, refuse with hostile details, or
 * pretend a request ended. Each call is answered by `answer`; unsigned, any key.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'

export interface StandInAnswer { status?: number, body: unknown, headers?: Record<string, string> }

export interface StandIn {
  url: string
  /** Every call as "METHOD path", in order. */
  calls: string[]
  close: () => Promise<void>
}

export async function standIn (answer: (method: string, path: string, body: string, headers: IncomingHttpHeaders) => StandInAnswer | Promise<StandInAnswer>): Promise<StandIn> {
  const calls: string[] = []
  const server = createServer((req, res) => {
    void readBody(req).then(async (body) => {
      const path = (req.url ?? '').split('?')[0] as string
      calls.push(`${req.method} ${path}`)
      const { status = 200, body: reply, headers = {} } = await answer(req.method ?? '', path, body, req.headers)
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(reply === undefined ? undefined : typeof reply === 'string' ? reply : JSON.stringify(reply))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

async function readBody (req: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return text
}

/**
 * A pass-through in front of a real server that records each call once the
 * server has answered it: tests see what a client has done without asking the
 * server's internals. `dropQuery` makes it a server without long-polls.
 */
export async function recordingProxy (target: string, options: { dropQuery?: boolean } = {}): Promise<StandIn> {
  const calls: string[] = []
  const server = createServer((req, res) => {
    // Without its query, a call is what a v1 server that ignores `?wait=` sees.
    const path = options.dropQuery === true ? (req.url ?? '').split('?')[0] : req.url
    const upstream = httpRequest(target + (path ?? ''), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
      up.on('end', () => calls.push(`${req.method} ${(req.url ?? '').split('?')[0]} ${up.statusCode}`))
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
