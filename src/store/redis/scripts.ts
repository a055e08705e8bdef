/**
 * The Lua scripts that make each store step atomic in Redis, so that
 * instances racing on one request agree: one answer wins, a result is
 * delivered once. Each script is a file in ./lua/ whose header lists its KEYS,
 * ARGV and reply; `--- @include "name"` lines pull in ./lua/includes/name.lua.
 * They are loaded with node-redis's own defineScript (EVALSHA, EVAL when Redis
 * does not know the script yet), and called with named arguments.
 *
 * What Redis holds (every name a keyed hash, never an id):
 *   {p}q:<request>   hash    the request, layout 2:
 *                              v  layout version ('2'; absent before versions: read as '1')
 *                              st p (pending) | c (answered) | h (handed out to a reader)
 *                              id the request id, sealed       a  the answer, sealed
 *                              t  target hash                  d  pair hash
 *                              o  creation order               b  count bucket (see includes/count.lua)
 *                              w  when answered (ms)           h  when last handed out (ms)
 *   {p}t:<target>    zset    pending request hashes of one target, scored by expiry
 *   {p}d:<pair>      string  the pending request hash of one (requester, target) pair
 *   {p}order         int     the last creation order given
 *   {p}count:*               the total count (includes/count.lua)
 *   channel {p}wake          a target hash (new task) or a request hash (new answer, delivered)
 *
 * A new field is added without a new layout when older code can ignore it;
 * a new layout number is for changes older code would misread (it then tells
 * `reseal` or skips the record, and the version that reads both can roll out first).
 */
import { readFileSync } from 'node:fs'
import { defineScript, type CommandParser } from 'redis'

/** The record layout this version writes. */
export const LAYOUT = '2'

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

export type CreateReply =
  | { kind: 'created' }
  | { kind: 'existing', requestHash: string, sealedId: string, layout: string }
  | { kind: 'target_full' }
  | { kind: 'store_full' }

export type SubmitReply =
  | { kind: 'accepted' }
  | { kind: 'unknown' }
  | { kind: 'answered', sealedAnswer: string, layout: string }
  | { kind: 'reseal', layout: string }

export type TakeReply =
  | { kind: 'expired' }
  | { kind: 'pending', msToExpiry: number }
  | { kind: 'settling', msToSettle: number }
  | { kind: 'completed', sealedAnswer: string, layout: string, handedOutAt: number }

export interface Task { requestHash: string, sealedId: string, layout: string }

export const SCRIPTS = {
  wcCreate: script<{
    pairKey: string, targetKey: string, recordKey: string,
    prefix: string, ttlMs: number, maxPerTarget: number, maxTotal: number,
    requestHash: string, sealedId: string, targetHash: string, pairHash: string, layout: string
  }, CreateReply>('create',
    ['pairKey', 'targetKey', 'recordKey'],
    ['prefix', 'ttlMs', 'maxPerTarget', 'maxTotal', 'requestHash', 'sealedId', 'targetHash', 'pairHash', 'layout'],
    (raw) => {
      const [kind, requestHash, sealedId, layout] = list(raw)
      if (kind === 'existing') return { kind, requestHash: text(requestHash), sealedId: text(sealedId), layout: text(layout) }
      if (kind === 'created' || kind === 'target_full' || kind === 'store_full') return { kind }
      throw unexpected('create', kind)
    }),

  wcTasks: script<{ targetKey: string, prefix: string }, Task[]>('tasks',
    ['targetKey'],
    ['prefix'],
    (raw) => {
      const flat = list(raw)
      const tasks: Task[] = []
      for (let i = 0; i + 2 < flat.length; i += 3) {
        tasks.push({ requestHash: text(flat[i]), sealedId: text(flat[i + 1]), layout: text(flat[i + 2]) })
      }
      return tasks
    }),

  wcSubmit: script<{
    recordKey: string, prefix: string, requestHash: string, sealedAnswer: string, layout: string, retryGraceMs: number
  }, SubmitReply>('submit',
    ['recordKey'],
    ['prefix', 'requestHash', 'sealedAnswer', 'layout', 'retryGraceMs'],
    (raw) => {
      const [kind, first, second] = list(raw)
      if (kind === 'accepted' || kind === 'unknown') return { kind }
      if (kind === 'answered') return { kind, sealedAnswer: text(first), layout: text(second) }
      if (kind === 'reseal') return { kind, layout: text(first) }
      throw unexpected('submit', kind)
    }),

  wcTake: script<{ recordKey: string, prefix: string, retryGraceMs: number, settleMs: number }, TakeReply>('take',
    ['recordKey'],
    ['prefix', 'retryGraceMs', 'settleMs'],
    (raw) => {
      const [kind, first, second, third] = list(raw)
      if (kind === 'expired') return { kind }
      if (kind === 'pending') return { kind, msToExpiry: Number(first) }
      if (kind === 'settling') return { kind, msToSettle: Number(first) }
      if (kind === 'completed') return { kind, sealedAnswer: text(first), layout: text(second), handedOutAt: Number(third) }
      throw unexpected('take', kind)
    }),

  wcDelivered: script<{ recordKey: string, prefix: string, requestHash: string, handedOutAt: number }, boolean>('delivered',
    ['recordKey'],
    ['prefix', 'requestHash', 'handedOutAt'],
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

function unexpected (name: string, kind: unknown): Error {
  return new TypeError(`the ${name} script answered an unknown kind ${String(kind)}`)
}
