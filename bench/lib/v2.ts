/**
 * v2 sign-in for the benchmark: init data signed (`hash`) with a test bot
 * token, as Telegram would sign it for the operator's bot, and the HTTP
 * sign-in that turns it into a session token (PROTOCOL.md, "Version 2").
 */
import { Agent, request } from 'node:http'
import { signInitData } from '../../src/identity/init-data.js'
import { cpuMicros } from './processes.js'
import { percentile, round } from './load.js'

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
 * time on keep-alive sockets, each with init data of its own made beforehand
 * (init data is single use, and making it is not the server's cost). Timed
 * here, not by autocannon (whose run ends on its next one-second tick).
 */
export async function signIns (url: string, pid: number, amount: number, firstUserId: number, connections = 32): Promise<SignInResult> {
  const bodies = Array.from({ length: amount }, (_, i) => JSON.stringify({ init_data: initData(firstUserId + i) }))
  const base = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  let errors = 0
  let non2xx = 0
  let next = 0
  const post = (body: string): Promise<number> => new Promise((resolve, reject) => {
    const req = request({ agent, host: base.hostname, port: base.port, method: 'POST', path: '/v2/session', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
  const worker = async (): Promise<void> => {
    while (next < amount) {
      const body = bodies[next++] as string
      const t0 = performance.now()
      try {
        const status = await post(body)
        if (status !== 200) non2xx++
      } catch {
        errors++
      }
      latencies.push(performance.now() - t0)
    }
  }
  const cpuBefore = cpuMicros(pid)
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, worker))
  const seconds = (performance.now() - started) / 1000
  const cpu = cpuMicros(pid) - cpuBefore
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    signIns: amount,
    signInsPerSecond: Math.round(amount / seconds),
    cpuUsPerSignIn: round(cpu / amount, 1),
    p50: round(percentile(latencies, 50), 1),
    p99: round(percentile(latencies, 99), 1),
    errors,
    non2xx
  }
}

/** Whether the server at `url` has v2 sign-in (an older build may not): GET /v2/info. */
export async function hasSignIn (url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/info`)
    return res.status === 200 && (await res.json() as { sign_in?: boolean }).sign_in === true
  } catch {
    return false
  }
}
