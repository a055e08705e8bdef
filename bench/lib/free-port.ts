/**
 * A loopback TCP port nothing listens on right now: for the benchmark's
 * server processes and, re-exported by test/process-helper.ts, for the tests'
 * (here, not under test/, because the build compiles src and bench only).
 */
import { createServer } from 'node:net'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}
