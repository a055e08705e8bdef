/**
 * The Lua scripts that make each store step atomic in Redis, so that
 * instances racing on one request agree: one answer wins, a result is
 * delivered once, a quota is charged once. Each script is a file in ./lua/
 * whose header lists its KEYS, ARGV and reply; `--- @include "name"` lines
 * pull in ./lua/includes/name.lua. They are loaded with node-redis's own defineScript (EVALSHA, EVAL
 * when Redis does not know the script yet), and called with named arguments.
 *
 * What Redis holds (every name a keyed hash, never an id):
 *   {p}q:<request>   hash    the request:
 *                              v  layout version: '2' for v1 requests, '3' for v2 ones
 *                                 (absent before versions: read as '1')
 *                              st p (pending) | c (answered) | h (handed out to a reader)
 *                              id the request id, sealed       a  the answer, sealed (none for a decline)
 *                              t  target hash                  d  pair hash
 *                              o  creation order               b  count bucket (see includes/count.lua)
 *                              w  when answered (ms)           h  when last handed out (ms)
 *                              ak answer kind: sealed | declined (absent: plain)
 *                              sw '1': a reader was told to wait for the hand-out to settle
 *                              av '1': answered through v2
 *                            v2 requests (layout 3) also:
 *                              r  requester hash (who may read the answer)
 *                              ri the requester id, sealed (only when they chose to be named)
 *                              pk the public key of a sealed request, sealed
 *   {p}t:<target>    zset    pending request hashes of one target, scored by expiry
 *   {p}u:<target>    zset    the same, v1 requests only (the unverified cap)
 *   {p}d:<pair>      string  the pending request hash of one v1 (requester, target) pair,
 *                            or of one v2 (requester, target, public key): the two hash apart
 *   {p}s:<target>    string  the target is signed in through v2 (expires with the session)
 *   {p}quota:<requester> string  a v2 requester's quota (GCRA, see includes/quota.lua)
 *   {p}order         int     the last creation order given
 *   {p}count:*               the total count (includes/count.lua)
 *   channel {p}wake          a target hash (new task) or a request hash (new answer; delivered,
 *                            when a reader waits on it)
 *
 * A new field is added without a new layout when older code can ignore it;
 * a new layout number is for changes older code would misread (it then tells
 * `reseal` or skips the record, and the version that reads both can roll out first).
 * Layout 3 is such a change: code that knows only layout 2 would show a v2
 * request to v1 callers (sealed ones too) and hand its answer to anyone with
 * its id. Its request id is sealed for the layout (`id:3:`), so such code
 * cannot open it and skips the request; v1 requests are still written in
 * layout 2, which that code reads as before.
 */
import { readFileSync } from 'node:fs'
import { defineScript, type CommandParser } from 'redis'

/** The record layouts this version writes: v1 requests as layout 2 always did, v2 requests in layout 3. */
export const LAYOUT = { v1: '2', v2: '3' } as const

const LUA = new URL('./lua/', import.meta.url)

/** A script's source, with its `--- @include "name"` lines replaced by lua/includes/name.lua. */
export function luaSource (name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, LUA), 'utf8')
  return source.replace(/^--- @include "([\w-]+)"$/gm, (_line, include: string) => readFileSync(new URL(`includes/${include}.lua`, LUA), 'utf8'))
}

type Args = Record<string, string | number>

/**
 * A script whose KEYS and ARGV are built, in the order its header lists
 * them, from one object of named arguments.
 */
function script<A extends Args, R> (file: string, keys: ReadonlyArray<keyof A & string>, argv: ReadonlyArray<keyof A & string>, reply: (raw: unknown) => R) {
  return Object.assign(defineScript({
    SCRIPT: luaSource(file),
    NUMBER_OF_KEYS: keys.length,
    parseCommand (parser: CommandParser, args: A) {
      for (const name of keys) parser.pushKey(String(args[name]))
      for (const name of argv) parser.push(String(args[name]))
    },
    transformReply: reply
  }), { FILE: file, KEYS: keys, ARGV: argv })
}

export type ExistingReply = { kind: 'existing', requestHash: string, sealedId: string, layout: string, msToExpiry: number }

export type CreateReply =
  | { kind: 'created' }
  | ExistingReply
  | { kind: 'target_full', msToRoom: number }
  | { kind: 'unverified_full', msToRoom: number }
  | { kind: 'store_full' }

export type AskReply =
  | { kind: 'created' }
  | ExistingReply
  | { kind: 'target_full', msToRoom: number }
  | { kind: 'store_full' }
  | { kind: 'quota', msToNextAsk: number }

export type AnswerKindWire = 'plain' | 'sealed' | 'declined'

export type SubmitReply =
  | { kind: 'accepted' }
  | { kind: 'unknown' }
  | { kind: 'mismatch' }
  | { kind: 'answered', sealedAnswer: string, answerKind: AnswerKindWire, verified: boolean, layout: string }
  | { kind: 'reseal', layout: string }

export type TakeReply =
  | { kind: 'expired' }
  | { kind: 'pending', msToExpiry: number }
  | { kind: 'settling', msToSettle: number }
  | { kind: 'completed', sealedAnswer: string, layout: string, handedOutAt: number, answerKind: AnswerKindWire, verified: boolean }

export interface TaskRecord {
  requestHash: string
  sealedId: string
  layout: string
  msToExpiry: number
  verified: boolean
  /** '' when the requester is not named. */
  sealedRequester: string
  /** '' for a plain request. */
  sealedPublicKey: string
}

const TASK_WIDTH = 7

function existingReply (name: string, requestHash: unknown, sealedId: unknown, layout: unknown, msToExpiry: unknown): ExistingReply {
  return { kind: 'existing', requestHash: text(requestHash), sealedId: text(sealedId), layout: text(layout), msToExpiry: count(msToExpiry, name) }
}

export const SCRIPTS = {
  wcCreate: script<{
    pairKey: string, targetKey: string, unverifiedKey: string, recordKey: string,
    prefix: string, ttlMs: number, maxPerTarget: number, maxUnverified: number, maxTotal: number,
    requestHash: string, sealedId: string, targetHash: string, pairHash: string, layout: string
  }, CreateReply>('create',
    ['pairKey', 'targetKey', 'unverifiedKey', 'recordKey'],
    ['prefix', 'ttlMs', 'maxPerTarget', 'maxUnverified', 'maxTotal', 'requestHash', 'sealedId', 'targetHash', 'pairHash', 'layout'],
    (raw) => {
      const [kind, first, second, third, fourth] = list(raw)
      if (kind === 'existing') return existingReply('create', first, second, third, fourth)
      if (kind === 'target_full' || kind === 'unverified_full') return { kind, msToRoom: count(first, 'create') }
      if (kind === 'created' || kind === 'store_full') return { kind }
      throw unexpected('create', kind)
    }),

  wcAsk: script<{
    pairKey: string, targetKey: string, recordKey: string, quotaKey: string,
    prefix: string, ttlMs: number, maxPerTarget: number, maxTotal: number,
    requestHash: string, sealedId: string, targetHash: string, pairHash: string, layout: string,
    requesterHash: string, sealedRequester: string, sealedPublicKey: string, quotaIntervalMs: number, quotaBurstMs: number
  }, AskReply>('ask',
    ['pairKey', 'targetKey', 'recordKey', 'quotaKey'],
    ['prefix', 'ttlMs', 'maxPerTarget', 'maxTotal', 'requestHash', 'sealedId', 'targetHash', 'pairHash', 'layout',
      'requesterHash', 'sealedRequester', 'sealedPublicKey', 'quotaIntervalMs', 'quotaBurstMs'],
    (raw) => {
      const [kind, first, second, third, fourth] = list(raw)
      if (kind === 'existing') return existingReply('ask', first, second, third, fourth)
      if (kind === 'target_full') return { kind, msToRoom: count(first, 'ask') }
      if (kind === 'quota') return { kind, msToNextAsk: count(first, 'ask') }
      if (kind === 'created' || kind === 'store_full') return { kind }
      throw unexpected('ask', kind)
    }),

  wcTasks: script<{ targetKey: string, signedInKey: string, prefix: string, view: 'v1' | 'v2', signedInMs: number | '' }, TaskRecord[] | null>('tasks',
    ['targetKey', 'signedInKey'],
    ['prefix', 'view', 'signedInMs'],
    (raw) => {
      if (raw === null) return null
      const flat = list(raw)
      const tasks: TaskRecord[] = []
      for (let i = 0; i + TASK_WIDTH - 1 < flat.length; i += TASK_WIDTH) {
        tasks.push({
          requestHash: text(flat[i]),
          sealedId: text(flat[i + 1]),
          layout: text(flat[i + 2]),
          msToExpiry: count(flat[i + 3], 'tasks'),
          verified: flat[i + 4] === '1',
          sealedRequester: text(flat[i + 5]),
          sealedPublicKey: text(flat[i + 6])
        })
      }
      return tasks
    }),

  wcSubmit: script<{
    recordKey: string, prefix: string, requestHash: string, callerHash: string, kind: AnswerKindWire,
    sealedAnswer: string, layout: string, retryGraceMs: number
  }, SubmitReply>('submit',
    ['recordKey'],
    ['prefix', 'requestHash', 'callerHash', 'kind', 'sealedAnswer', 'layout', 'retryGraceMs'],
    (raw) => {
      const [kind, first, second, third, fourth] = list(raw)
      if (kind === 'accepted' || kind === 'unknown' || kind === 'mismatch') return { kind }
      if (kind === 'answered') return { kind, sealedAnswer: text(first), answerKind: answerKind(second, 'submit'), verified: third === '1', layout: text(fourth) }
      if (kind === 'reseal') return { kind, layout: text(first) }
      throw unexpected('submit', kind)
    }),

  wcTake: script<{ recordKey: string, prefix: string, callerHash: string, retryGraceMs: number, settleMs: number }, TakeReply>('take',
    ['recordKey'],
    ['prefix', 'callerHash', 'retryGraceMs', 'settleMs'],
    (raw) => {
      const [kind, first, second, third, fourth, fifth] = list(raw)
      if (kind === 'expired') return { kind }
      if (kind === 'pending') return { kind, msToExpiry: Number(first) }
      if (kind === 'settling') return { kind, msToSettle: Number(first) }
      if (kind === 'completed') {
        return { kind, sealedAnswer: text(first), layout: text(second), handedOutAt: Number(third), answerKind: answerKind(fourth, 'take'), verified: fifth === '1' }
      }
      throw unexpected('take', kind)
    }),

  wcDelivered: script<{ recordKey: string, prefix: string, requestHash: string, handedOutAt: number }, boolean>('delivered',
    ['recordKey'],
    ['prefix', 'requestHash', 'handedOutAt'],
    (raw) => raw === 1),

  wcSignedIn: script<{ signedInKey: string, ttlMs: number, prefix: string, targetHash: string }, boolean>('signed-in',
    ['signedInKey'],
    ['ttlMs', 'prefix', 'targetHash'],
    (raw) => raw === 1),

  wcCount: script<{ prefix: string }, number>('count', [], ['prefix'], (raw) => Number(raw))
}

function list (raw: unknown): unknown[] {
  if (!Array.isArray(raw)) throw new TypeError('a store script answered something other than a list')
  return raw
}

function text (value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('a store script answered a non-string where a string belongs')
  return value
}

function count (value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`the ${name} script answered a non-number where a number belongs`)
  return value
}

function answerKind (value: unknown, name: string): AnswerKindWire {
  if (value === 'plain' || value === 'sealed' || value === 'declined') return value
  throw new TypeError(`the ${name} script answered an unknown answer kind`)
}

function unexpected (name: string, kind: unknown): Error {
  return new TypeError(`the ${name} script answered an unknown kind ${String(kind)}`)
}
