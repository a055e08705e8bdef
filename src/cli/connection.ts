/**
 * What every client command shares: which server, which credentials (the v1
 * key or v2 init data), the SDK client made from them (flags win over the
 * environment), and how errors are told.
 */
import { Option, type Command } from 'commander'
import { SealingError, WhatClient, WhatClientError, WhatClientV2, type WhatClientOptions, type WhatClientV2Options } from 'whatclient-sdk'
import { jsonLine, printable } from './output.js'

export interface ConnectionFlags {
  server: string
  key?: string
  initData?: string
}

export function withConnection (command: Command): Command {
  return command
    .addOption(new Option('--server <url>', 'server URL').env('WHATCLIENT_URL').default('http://127.0.0.1:8000'))
    .addOption(new Option('--key <key>', 'the shared API_SECRET_KEY').env('WHATCLIENT_KEY'))
}

/** Adds `--init-data` (v2) beside `--key` (v1). */
export function withInitData (command: Command): Command {
  return command.addOption(new Option('--init-data <data>', 'v2: Telegram Mini App init data of the server\'s bot (single use; `whatclient init-data` makes some for a test)').env('WHATCLIENT_INIT_DATA'))
}

/** Which protocol the flags ask for: v1 with the shared key, or v2 signed in with init data. */
export type Credentials = { kind: 'v1', server: string, key: string } | { kind: 'v2', server: string, initData: string }

/**
 * v2 when init data is given, v1 otherwise. A flag on the command line beats
 * the environment; both flags at once, or both variables with neither flag,
 * is a mistake to say rather than guess at.
 */
export function credentialsFrom (flags: ConnectionFlags, command: Command): Credentials {
  const server = serverFrom(flags)
  const initData = flags.initData === '' ? undefined : flags.initData
  if (initData === undefined) return { kind: 'v1', ...connectionFrom(flags) }
  const initFromCli = command.getOptionValueSource('initData') === 'cli'
  const keyFromCli = command.getOptionValueSource('key') === 'cli'
  if (flags.key !== undefined && flags.key !== '') {
    if (initFromCli && keyFromCli) throw new UsageError('pass either --key (v1) or --init-data (v2), not both')
    if (keyFromCli) return { kind: 'v1', ...connectionFrom(flags) }
    if (!initFromCli) throw new UsageError('both WHATCLIENT_KEY (v1) and WHATCLIENT_INIT_DATA (v2) are set: pass --key or --init-data to choose')
  }
  return { kind: 'v2', server, initData }
}

/** The v2 SDK client for a server; `options` adds hooks such as `onRetry`. */
export function clientV2From (server: string, options: Partial<WhatClientV2Options> = {}): WhatClientV2 {
  return new WhatClientV2({ ...options, baseUrl: server })
}

/** The SDK client for the flags; `options` adds hooks such as `onRetry`. */
export function clientFrom (flags: ConnectionFlags, options: Partial<WhatClientOptions> = {}): WhatClient {
  const { server, key } = connectionFrom(flags)
  return new WhatClient({ ...options, baseUrl: server, apiKey: key })
}

/** The server URL and key the flags (or the environment) name, checked. */
export function connectionFrom (flags: ConnectionFlags): { server: string, key: string } {
  const key = flags.key ?? process.env.API_SECRET_KEY
  if (key === undefined || key === '') {
    throw new UsageError('no key: pass --key, or set WHATCLIENT_KEY (or API_SECRET_KEY); or --init-data for v2')
  }
  return { server: serverFrom(flags), key }
}

/** The server URL, checked. */
export function serverFrom (flags: { server: string }): string {
  try {
    new URL(flags.server)
  } catch {
    throw new UsageError(`--server is not a URL: ${flags.server}`)
  }
  return flags.server.replace(/\/+$/, '')
}

/** A mistake in how the command was called: exit 1 with the message, no stack. */
export class UsageError extends Error {}

export function parseUserId (value: string, what: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer user id, got "${value}"`)
  return n
}

/** Says what went wrong in words (no stack) and sets exit code 1. A server's words are shown escaped. */
export function reportError (err: unknown, json: boolean): void {
  const message = describeFailure(err)
  if (json) process.stdout.write(jsonLine({ status: 'error', error: message }))
  process.stderr.write(`whatclient: ${printable(message)}\n`)
  process.exitCode = 1
}

/** Why a command stopped early: Ctrl-C, or a service manager's SIGTERM. */
export class Interrupted extends Error {
  constructor (signal: NodeJS.Signals) {
    super(`interrupted (${signal})`)
    this.name = 'AbortError'
  }
}

/** Aborts `controller` on SIGINT or SIGTERM, so that a command stops cleanly and says why. */
export function stopOnSignals (controller: AbortController): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort(new Interrupted(signal)))
}

/** What went wrong, in words: a refusal with the server's detail, or why the server could not be reached. */
export function describeFailure (err: unknown): string {
  if (err instanceof WhatClientError && err.status === 403) {
    return `${err.message} Check the key: --key or WHATCLIENT_KEY must be the server's API_SECRET_KEY.`
  }
  if (err instanceof WhatClientError && err.status === 401) {
    const why = "Init data is accepted once, for a few minutes, and only from the server's own bot"
    // The server's own message may already say to get fresh init data: say it once.
    return /fresh init data/.test(err.message) ? `${err.message} (${why}.)` : `${err.message} ${why}: get fresh init data.`
  }
  if (err instanceof WhatClientError && err.status === 429 && err.retryAfterSeconds !== undefined) {
    return `${err.message} (try again in ${err.retryAfterSeconds} s)`
  }
  // Its message says what was wrong: it did not open, or opened to something else than a package name.
  if (err instanceof SealingError) return `the sealed answer cannot be used: ${err.message}`
  if (err instanceof UsageError || err instanceof WhatClientError || err instanceof Interrupted) return err.message
  if (err instanceof Error && err.name === 'AbortError') return 'interrupted'
  const reason = networkReason(err)
  // fetch refuses some ports outright (the Fetch standard's "bad ports", such as 6667): no retry reaches them.
  if (reason === 'bad port') return 'cannot reach the server: fetch does not connect to that port (one browsers block, such as 6000 or 6667); serve on another'
  return `cannot reach the server (${reason})`
}

/** The low-level reason a call failed (ECONNREFUSED, a timeout), without the stack. */
export function networkReason (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? err.message
}
