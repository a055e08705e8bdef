/**
 * What a listening server does when the kernel refuses it a connection. Once a
 * server listens, its 'error' event means an accept failed: the system is out of
 * file descriptors (past what libuv's spare descriptor absorbs) or memory. With
 * no listener Node throws it, which ends the process and every held poll with
 * it. Such failures are passing, and libuv retries the accept at once, so they
 * are logged at most once a second, with how many there were since the last line.
 */
import type { Server } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'

const REPORT_EVERY_MS = 1000

/** An 'error' listener for listening servers; errors before listening are left to whoever listens. */
export function logFailedAccepts (log: FastifyBaseLogger): (this: Server, error: NodeJS.ErrnoException) => void {
  let reportedAt = -Infinity
  let unreported = 0
  let last: NodeJS.ErrnoException | undefined
  let later: NodeJS.Timeout | undefined

  const report = (): void => {
    later = undefined
    if (unreported === 0 || last === undefined) return
    // Code and call only: the message is Node's, and says nothing more.
    log.error({ err: { code: last.code, syscall: last.syscall }, failures: unreported }, 'could not accept a connection: serving on')
    reportedAt = performance.now()
    unreported = 0
  }

  return function failedAccept (this: Server, error: NodeJS.ErrnoException): void {
    if (!this.listening) return
    unreported++
    last = error
    const wait = reportedAt + REPORT_EVERY_MS - performance.now()
    if (wait <= 0) report()
    // The rest of a burst is told once its second is over, even if no failure follows.
    else later ??= setTimeout(report, wait).unref()
  }
}
