/**
 * The test kit: `build()` starts a real app on a free loopback port, with
 * captured logs and the kit's signed HTTP client, and closes it when the test
 * (or, built in a beforeAll, the file) is done. The rest of the kit is
 * exported from here too: raw sockets, the v2 client, fresh user ids, one
 * bounded wait.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { eventually } from './kit/eventually.js'
import { closeWhenDone } from './kit/lifetime.js'
import { rawConnection, splitResponses, type RawResponse } from './kit/raw-http.js'
import { signedClient, type SignedClient } from './kit/signed-client.js'

export { eventually, heldPollsBecome } from './kit/eventually.js'
export { closeWhenDone } from './kit/lifetime.js'
export { listenOnLoopback } from './kit/loopback.js'
export { detailOf, rawConnection, rawRequest, requestText, type RawConnection, type RawResponse } from './kit/raw-http.js'
export { codeOf, refusal } from './kit/refusals.js'
export { pyJson, signedClient, signedPath, type SignedClient } from './kit/signed-client.js'
export { userIdArgs, userIds } from './kit/user-ids.js'
export { BOT_TOKEN, postSession, SIGN_IN, signInWith, V2User, type Reply, type Task } from './kit/v2.js'
export { sleep }

export const TEST_KEY = 'lainapi.gay'

export interface TestServer extends SignedClient {
  app: FastifyInstance
  /** Every log line the server wrote, as text. */
  logs: string[]
  /** Closes the app (once, however often it is called). */
  close: () => Promise<void>
}

/** The server's log lines, parsed. */
export function logLines (server: TestServer): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
}

export interface TestBuildOptions extends BuildOptions {
  /** Runs after the app is built and before it listens (to add hooks or routes). */
  beforeListen?: (app: FastifyInstance) => void | Promise<void>
  /** Listens some other way than on 127.0.0.1 (the returned client talks to app.server's address). */
  listen?: (app: FastifyInstance) => Promise<void>
}

export async function build (env: Record<string, string> = {}, { beforeListen, listen, ...options }: TestBuildOptions = {}): Promise<TestServer> {
  const config = loadConfig({ API_SECRET_KEY: TEST_KEY, LOG_LEVEL: 'info', ...env })
  const logs: string[] = []
  const logStream = new Writable({
    write (chunk, _encoding, done) {
      logs.push(String(chunk))
      done()
    }
  })
  const app = await buildApp(config, { logStream, ...options })
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => { await (closing ??= app.close()) }
  closeWhenDone({ close })
  await beforeListen?.(app)
  await (listen === undefined ? app.listen({ host: '127.0.0.1', port: 0 }) : listen(app))
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return { ...signedClient(`http://${host}:${address.port}`, config.apiSecretKey), app, logs, close }
}

/**
 * Holds replies in flight, as a slow store would, once armed: an onSend hook
 * (install it with `build(env, { beforeListen: (app) => gate.install(app) })`)
 * that waits until `release()`. `held` counts the replies it has held.
 */
export class ReplyGate {
  armed = false
  held = 0
  #release = (): void => {}
  readonly #open = new Promise<void>((resolve) => { this.#release = resolve })

  install (app: FastifyInstance): void {
    app.addHook('onSend', async (_request, _reply, payload) => {
      if (!this.armed) return payload
      this.held++
      await this.#open
      return payload
    })
  }

  release (): void {
    this.#release()
  }
}

/**
 * Sends `request` on a kept-alive connection and closes the server while
 * `gate` holds its reply (so closing takes a while); sends `request` again on
 * that connection once the server has stopped listening, then lets the first
 * reply go. Returns both answers, and the whole text for failure messages.
 */
export async function callAgainWhileClosing (server: TestServer, gate: ReplyGate, request: string): Promise<{ first: RawResponse, second: RawResponse, received: string }> {
  gate.armed = true
  const connection = rawConnection(server.url)
  connection.write(request)
  await sleep(100)
  const closed = server.close()
  await eventually(() => !server.app.server.listening, { timeoutMs: 2000 })
  connection.write(request)
  await sleep(100)
  gate.release()
  await closed
  const received = await connection.closed
  const [first, second] = splitResponses(received)
  return { first, second, received }
}
