/**
 * v2 sign-in for the benchmark: init data signed (`hash`) with a test bot
 * token, as Telegram would sign it for the operator's bot, and the HTTP
 * sign-in that turns it into a session token (PROTOCOL.md, "Version 2").
 */
import autocannon from 'autocannon'
import { signInitData } from '../../src/identity/init-data.js'
import { cpuMicros } from './processes.js'
import { round } from './load.js'

/** A made-up bot token of the shape BotFather gives; the servers are started with it. */
export const BOT_TOKEN = '7000000001:AAbench-bench-bench-bench-bench-bench'
/** Settings that turn v2 sign-in on (the `hash` check, with BOT_TOKEN). */
export const SIGN_IN_ENV = { TELEGRAM_BOT_TOKEN: BOT_TOKEN }

/** Fresh init data for `userId` (single use: the server accepts each once). */
export function initData (userId: number): string {
  return signInitData({ botToken: BOT_TOKEN, user: { id: userId, first_name: 'Bench', username: `bench${userId}` }, fields: { chat_type: 'sender', chat_instance: '8134722200314281151' } })
}

/** Signs `userId` in over HTTP; the session token. */
export async function signIn (url: string, userId: number): Promise<string> {
  const res = await fetch(`${url}/v2/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData(userId) }) })
  const body = await res.json() as { token?: string }
  if (res.status !== 200 || body.token === undefined) throw new Error(`sign-in answered ${res.status}: ${JSON.stringify(body)}`)
  return body.token
}

export interface SignInResult {
  signIns: number
  signInsPerSecond: number
  /** Server CPU per sign-in (user + system), microseconds. */
  cpuUsPerSignIn: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

/**
 * `amount` sign-ins of distinct users (`firstUserId` on), `connections` at a
 * time, each with init data of its own made beforehand (init data is single
 * use, and making it is not the server's cost).
 */
export async function signIns (url: string, pid: number, amount: number, firstUserId: number, connections = 32): Promise<SignInResult> {
  const bodies = Array.from({ length: amount }, (_, i) => JSON.stringify({ init_data: initData(firstUserId + i) }))
  let next = 0
  const started = performance.now()
  const cpuBefore = cpuMicros(pid)
  const result = await autocannon({
    url: `${url}/v2/session`,
    connections,
    amount,
    requests: [{
      method: 'POST',
      setupRequest: (req) => ({ ...req, body: bodies[next++ % amount] as string, headers: { 'content-type': 'application/json' } })
    }]
  })
  const cpu = cpuMicros(pid) - cpuBefore
  const seconds = (performance.now() - started) / 1000
  const done = result.requests.total
  return {
    signIns: done,
    signInsPerSecond: Math.round(done / seconds),
    cpuUsPerSignIn: round(cpu / Math.max(done, 1), 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx
  }
}
