/**
 * `ask --timeout`: the deadline that bounds a whole ask (signing in, asking,
 * waiting), and the one way an ask that reached it is told, v1 and v2 alike.
 */
import { timeOfDay } from './progress.js'

export type Print = (text: string, value: object) => void

/**
 * The signal for the calls before the wait (signing in, asking): it aborts on
 * SIGINT/SIGTERM, and once --timeout has passed, which bounds the whole
 * command (a server that takes the connection and never answers, retries
 * included), not only the wait for the answer.
 */
export function timeoutSignal (controller: AbortController, timeoutSeconds: number | undefined): { signal: AbortSignal, timedOut: () => boolean } {
  const ms = timeoutSeconds === undefined ? Infinity : Math.ceil(timeoutSeconds * 1000)
  // A timer takes a whole number of ms up to 2^31 - 1 (about 24.8 days): past that, no deadline to keep.
  if (!(ms <= 2 ** 31 - 1)) return { signal: controller.signal, timedOut: () => false }
  const timer = AbortSignal.timeout(ms)
  return { signal: AbortSignal.any([controller.signal, timer]), timedOut: () => timer.aborted && !controller.signal.aborted }
}

/** Where the ask was when --timeout came: still waiting for a call (and which), or waiting for the answer to a request open until a time. */
export type TimedOutAt =
  | { before: 'sign you in' | 'confirm the question' }
  | { openUntil: number, sameRequestAgain: boolean }

/** Says that --timeout came first (exit 2, JSON status "timeout"). */
export function tellTimedOut (print: Print, targetId: number, timeoutSeconds: number | undefined, at: TimedOutAt): void {
  process.exitCode = 2
  const head = `No answer from ${targetId} within ${timeoutSeconds} s (--timeout)`
  const text = 'before' in at
    ? `${head}: the server did not ${at.before} in time.`
    : at.sameRequestAgain
      // v1 keeps one request per requester and target: another ask finds this one.
      ? `${head}. The request stays open until ${timeOfDay(at.openUntil)} at the latest: asking again before then waits for the same request.`
      : `${head}. The request stays open until ${timeOfDay(at.openUntil)}.`
  print(text, { status: 'timeout', target: targetId })
}
