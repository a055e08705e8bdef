/**
 * An HTTP pass-through in front of real servers, as a load balancer would
 * be: each call goes where `route` says (so a test can put a freshly started
 * instance behind the same URL, or route sign-ins and other calls to two
 * instances that do not share keys), and it can lose one reply after the
 * server has acted on the call, as a dropped connection would.
 */
import { createServer, request as httpRequest } from 'node:http'

export interface SwitchingProxy {
  url: string
  /** Every call as "METHOD path -> upstream status" once answered, or "METHOD path -> lost". */
  calls: string[]
  /** Where each call goes: the base URL of a server. */
  route: (method: string, path: string) => string
  /** The next call that matches has its reply lost (the server has acted on it). */
  loseReplyTo: (method: string, path: string) => void
  close: () => Promise<void>
}

export async function switchingProxy (initial: string): Promise<SwitchingProxy> {
  let lose: { method: string, path: string } | undefined
  const proxy: SwitchingProxy = {
    url: '',
    calls: [],
    route: () => initial,
    loseReplyTo: (method, path) => { lose = { method, path } },
    close: async () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET'
    const path = (req.url ?? '/').split('?')[0] as string
    const upstream = httpRequest(proxy.route(method, path) + (req.url ?? '/'), { method, headers: req.headers }, (up) => {
      if (lose !== undefined && lose.method === method && lose.path === path) {
        lose = undefined
        up.resume()
        proxy.calls.push(`${method} ${path} -> lost`)
        res.socket?.destroy()
        return
      }
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
      up.on('end', () => proxy.calls.push(`${method} ${path} -> ${up.statusCode}`))
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return proxy
}
