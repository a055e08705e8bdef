/**
 * What the fast path (task-polls.ts) learned of a request it took and then
 * handed to the routes, kept on the request under a symbol: the routes' hooks
 * and the request counters read it, so that a request handed on is answered
 * and counted as if the routes had taken it from the start.
 */
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { WC_ERR_SHUTTING_DOWN } from '../errors.js'
import type { Session } from '../identity/tokens.js'
import type { Task } from '../store/task-store.js'

/** Tasks the fast path found, tagged with the poll they answer: a v1 poll's are request ids, a v2 poll's whole tasks. */
export type FoundTasks = { poll: 'v1', tasks: string[] } | { poll: 'v2', tasks: Task[] }

export interface HandOn {
  /** Its store call's failure, or a refused hold (undefined: none). */
  error: Error | undefined
  /** The tasks its store call or its hold found (undefined with an error). */
  found: FoundTasks | undefined
  /** When the fast path took it (performance.now()). */
  start: number
  /** The v2 session its token carried when it was taken (undefined: a v1 poll). */
  caller: Session | undefined
  /** Its v1 signature was checked when it was taken (set only where that check passed). */
  signed: boolean
}

const HANDED_ON = Symbol('whatclient handed on by the fast path')
type HandedOn = IncomingMessage & { [HANDED_ON]?: HandOn }

/**
 * Marks `request` as handed on, with what the fast path learned. For the fast
 * path only (task-polls.ts): the routes trust the record, a v2 session in it
 * included (their token check is skipped for it).
 */
export function markHandedOn (request: IncomingMessage, record: HandOn): void {
  (request as HandedOn)[HANDED_ON] = record
}

/**
 * The refusal the routes' first hook gives `request` (undefined: none). A
 * request the fast path took before the server began to close arrived before
 * the close, and is not refused for it; one whose store call failed there, or
 * whose hold was refused (a cap), is answered with that failure, not with a
 * second call or hold. (Its token or v1 signature is not checked again either:
 * handedOnSession, handedOnSigned.)
 */
export function refusalFor (request: IncomingMessage, closing: boolean): Error | undefined {
  const handedOn = (request as HandedOn)[HANDED_ON]
  if (handedOn === undefined) return closing ? new WC_ERR_SHUTTING_DOWN() : undefined
  return handedOn.error
}

/**
 * The tasks the fast path found for the `poll` `request` before it handed it on:
 * the route answers those, without a second store call (a Redis round trip on
 * the way of every question to its target). Only tasks found for the same kind
 * of poll are given (the fast path hands a poll to the route of its own path).
 */
export function handedOnTasks (request: IncomingMessage, poll: 'v1'): string[] | undefined
export function handedOnTasks (request: IncomingMessage, poll: 'v2'): Task[] | undefined
export function handedOnTasks (request: IncomingMessage, poll: FoundTasks['poll']): FoundTasks['tasks'] | undefined {
  const found = (request as HandedOn)[HANDED_ON]?.found
  return found?.poll === poll ? found.tasks : undefined
}

/**
 * The session whose token the fast path checked when it took `request`. A
 * poll it hands on is not checked again: its token was valid when the poll
 * arrived, and a token that expires during a hold must not turn the tasks it
 * waited for into a 401 (the routes hold a poll the same way).
 */
export function handedOnSession (request: IncomingMessage): Session | undefined {
  return (request as HandedOn)[HANDED_ON]?.caller
}

/**
 * Whether the fast path checked `request`'s v1 signature when it took it (a
 * v1 poll it handed on, over the same path the routes check): their
 * signature check need not run again.
 */
export function handedOnSigned (request: IncomingMessage): boolean {
  return (request as HandedOn)[HANDED_ON]?.signed === true
}

/**
 * How long `request` has taken, in ms: from when the fast path took it when it
 * was handed on (its hold included), else `routedMs` (the framework's own count).
 */
export function elapsedMs (request: IncomingMessage, routedMs: number): number {
  const handedOn = (request as HandedOn)[HANDED_ON]
  return handedOn === undefined ? routedMs : performance.now() - handedOn.start
}

/** A failure as the routes answer it: an Error (anything else is sent as a 200 payload). */
export function asError (failure: unknown): Error {
  return failure instanceof Error ? failure : new Error(`held call failed: ${typeof failure}`)
}
