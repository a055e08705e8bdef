/**
 * Puts a node:http server of the test's own (a stand-in, a proxy) on a free
 * loopback port; it is closed, connections and all, when the test (or, made
 * in a beforeAll, the file) is done, or earlier by `close()`.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { closeWhenDone } from './lifetime.js'

export async function listenOnLoopback (server: Server): Promise<{ url: string, close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    await (closing ??= new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  }
  closeWhenDone({ close })
  return { url: `http://127.0.0.1:${port}`, close }
}
