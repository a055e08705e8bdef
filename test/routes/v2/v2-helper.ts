/**
 * A v2 client for tests over real sockets: signs users in with init data the
 * test signs (the server checks it with the same TELEGRAM_BOT_TOKEN), and
 * calls the v2 routes with their tokens, exactly as a plugin would.
 */
import { randomBytes } from 'node:crypto'
import { expect } from 'vitest'
import { signInitData } from '../../../src/identity/init-data.js'

export const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
/** The settings a server needs to sign anyone in. */
export const SIGN_IN = { TELEGRAM_BOT_TOKEN: BOT_TOKEN }

export interface Reply<T = Record<string, unknown>> {
  status: number
  body: T
  headers: Headers
}

export interface Task { request_id: string, requester_id: number | null, verified: boolean, expires_at: number, public_key?: string }

async function reply<T> (res: Response): Promise<Reply<T>> {
  const text = await res.text()
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T, headers: res.headers }
}

/** One signed-in user on one server. */
export class V2User {
  constructor (readonly url: string, readonly userId: number, readonly token: string) {}

  static async signIn (url: string, userId: number): Promise<V2User> {
    const res = await fetch(`${url}/v2/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A query_id of its own, as Telegram gives: two sign-ins in one second are two init data.
      body: JSON.stringify({ init_data: signInitData({ botToken: BOT_TOKEN, user: userId, fields: { query_id: randomBytes(8).toString('hex') } }) })
    })
    const body = await res.json() as { token: string, user_id: number }
    expect(res.status, JSON.stringify(body)).toBe(200)
    return new V2User(url, body.user_id, body.token)
  }

  /** The same user's token on another server (instance). */
  on (url: string): V2User {
    return new V2User(url, this.userId, this.token)
  }

  #headers (json: boolean): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...(json ? { 'content-type': 'application/json' } : {}) }
  }

  async post (path: string, body: unknown): Promise<Reply> {
    return reply(await fetch(this.url + path, { method: 'POST', headers: this.#headers(true), body: typeof body === 'string' ? body : JSON.stringify(body) }))
  }

  async get<T = Record<string, unknown>> (path: string, signal?: AbortSignal): Promise<Reply<T>> {
    return reply<T>(await fetch(this.url + path, { headers: this.#headers(false), signal }))
  }

  /** POST /v2/requests; expects 200 and returns the request id. */
  async ask (targetId: number, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await this.post('/v2/requests', { target_id: targetId, ...extra })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    return res.body.request_id as string
  }

  async tasks (wait?: number): Promise<Task[]> {
    const res = await this.get<{ tasks: Task[] }>(`/v2/tasks${wait === undefined ? '' : `?wait=${wait}`}`)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    return res.body.tasks
  }

  answer (requestId: string, answer: Record<string, unknown>): Promise<Reply> {
    return this.post('/v2/answers', { request_id: requestId, ...answer })
  }

  async result (requestId: string, wait?: number): Promise<Record<string, unknown>> {
    const res = await this.get(`/v2/requests/${encodeURIComponent(requestId)}${wait === undefined ? '' : `?wait=${wait}`}`)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    return res.body
  }
}
