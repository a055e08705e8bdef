/**
 * `whatclient ask <target> --as <me>` (v1, with the shared key) or
 * `whatclient ask <target> --init-data <data>` (v2, signed in; see ask-v2.ts):
 * asks which client a user runs, shows
 * at once that it is asking and then when the request expires (a live countdown
 * on a terminal, a line now and then otherwise), prints the answer.
 * Exit 0 answered; 2 no answer, either because the request expired (JSON
 * status "expired") or because --timeout came first ("timeout"); 1 error.
 *
 * The server keeps one request per requester and target, so two asks for the
 * same pair share it, and only the first to read hears the answer: the other
 * hears "expired", before the request's lifetime is over. A v1 server does not
 * say which, so an early end is told as what it most likely is.
 */
import { Command, Option } from 'commander'
import { askV2 } from './ask-v2.js'
import {
  clientFrom, credentialsFrom, describeFailure, parseUserId, reportError, stopOnSignals, UsageError, withConnection, withInitData,
  type ConnectionFlags
} from './connection.js'
import { tellTimedOut, timeoutSignal } from './deadline.js'
import { jsonLine, printable } from './output.js'
import { clock, startProgress, timeOfDay } from './progress.js'

export interface AskFlags extends ConnectionFlags {
  as?: string
  json?: boolean
  timeout?: number
  ttl: number
  plain?: boolean
  named?: boolean
}

/** The server's REQUEST_TTL_SECONDS by default: a v1 server does not say how long a request lives. */
const DEFAULT_TTL_SECONDS = 120
/** A request that ends more than this before its lifetime is over did not simply expire. */
const EARLY_MARGIN_MS = 1000

export function askCommand (): Command {
  return withInitData(withConnection(new Command('ask')))
    .description('Ask which Telegram client a user runs (v1 with --key, v2 with --init-data)')
    .argument('<target>', "the target's Telegram user id")
    .option('--as <me>', 'v1: your own Telegram user id (the requester); in v2 you are the user your init data names')
    .addOption(new Option('--timeout <seconds>', 'stop waiting after this long (default: until the request expires)').argParser(Number))
    .addOption(new Option('--ttl <seconds>', "v1: how long the server keeps a request (its REQUEST_TTL_SECONDS), for the countdown; a v2 server says").default(DEFAULT_TTL_SECONDS).argParser(Number))
    .option('--plain', 'v2: ask for a plain answer, which the server can read (default: sealed, only this process can open it)')
    .option('--named', 'v2: let the target see who asks (default: anonymous)')
    .option('--json', 'print one JSON object on stdout, nothing else')
    .action(async (target: string, flags: AskFlags, command: Command) => {
      const json = flags.json === true
      const print = (text: string, value: object): void => {
        process.stdout.write(json ? jsonLine(value) : text + '\n')
      }
      try {
        const credentials = credentialsFrom(flags, command)
        const targetId = parseUserId(target, 'target')
        positiveSeconds(flags.timeout, '--timeout')
        positiveSeconds(flags.ttl, '--ttl')
        if (credentials.kind === 'v2') {
          if (flags.as !== undefined) throw new UsageError('--as is for v1 (--key): in v2 you are the user your init data names')
          await askV2(credentials, targetId, flags, print)
          return
        }
        if (flags.plain === true || flags.named === true) throw new UsageError('--plain and --named are for v2 (--init-data): v1 answers are always plain and anonymous')
        if (flags.as === undefined) throw new UsageError('v1 needs --as <me>, your own Telegram user id (or --init-data for v2)')
        const me = parseUserId(flags.as, '--as')
        const ttlMs = flags.ttl * 1000
        const giveUpAt = flags.timeout === undefined ? undefined : Date.now() + flags.timeout * 1000
        // Set once the server has the request: it expires by then at the latest
        // (sooner when it was made earlier by another ask for the same pair).
        let expiresBy: number | undefined
        const progress = startProgress(json ? null : process.stderr, {
          status: () => {
            if (expiresBy === undefined) return `Asking ${flags.server} which app ${targetId} uses...`
            const left = expiresBy - Date.now()
            const expiry = left > 0 ? `the request expires in ${clock(left)}` : `the request should have expired by now (--ttl ${flags.ttl})`
            return `Waiting for ${targetId} to answer: ${expiry}` + (giveUpAt === undefined ? '' : `; giving up in ${clock(giveUpAt - Date.now())}`)
          },
          // About eight lines over a request's life, at most one every 15 s.
          plainEveryMs: Math.min(15_000, Math.max(1000, ttlMs / 8))
        })
        try {
          const client = clientFrom(flags, {
            onRetry: (err, delayMs) => progress.note(`${describeFailure(err)}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
          })
          const controller = new AbortController()
          stopOnSignals(controller)
          // The request was made after this, or earlier by another ask for the same pair:
          // either way it cannot expire before sentAt + ttl unless it was shared.
          const sentAt = performance.now()
          const deadline = timeoutSignal(controller, flags.timeout)
          let requestId: string
          try {
            requestId = await client.requestClient(me, targetId, deadline.signal)
          } catch (err) {
            if (!deadline.timedOut()) throw err
            progress.stop()
            tellTimedOut(print, targetId, flags.timeout, { before: 'confirm the question' })
            return
          }
          expiresBy = Date.now() + ttlMs
          progress.note(`Asked ${targetId}; the request expires in ${clock(ttlMs)}, by ${timeOfDay(expiresBy)} at the latest`)
          const outcome = await client.waitForResult(requestId, {
            timeoutMs: giveUpAt === undefined ? undefined : Math.max(1, giveUpAt - Date.now()),
            signal: controller.signal
          })
          progress.stop()
          if (outcome.status === 'completed') {
            // The names come from the server: shown escaped, never obeyed.
            print(`${targetId} uses ${printable(outcome.clientName)}${outcome.packageName === undefined ? '' : ` (${printable(outcome.packageName)})`}`,
              { status: 'completed', target: targetId, client_name: outcome.clientName, package_name: outcome.packageName ?? null })
            return
          }
          if (outcome.status === 'timeout') {
            tellTimedOut(print, targetId, flags.timeout, { openUntil: expiresBy, sameRequestAgain: true })
            return
          }
          process.exitCode = 2
          const lived = performance.now() - sentAt
          if (lived < ttlMs - EARLY_MARGIN_MS) {
            print(`No answer for this ask: the request ended after ${clock(lived)}, before its ${clock(ttlMs)} were up.\n` +
              `Asks by ${me} about ${targetId} share one request: another ask most likely received the answer, or had made the request ` +
              `earlier and it expired (unless the server keeps requests less than --ttl ${flags.ttl} s). Ask again for a fresh answer.`,
            { status: 'expired', target: targetId, ended_early: true })
            return
          }
          print(`No answer from ${targetId} before the request expired: they are offline, have no WhatClient, or do not answer.`,
            { status: 'expired', target: targetId, ended_early: false })
        } finally {
          progress.stop()
        }
      } catch (err) {
        reportError(err, json)
      }
    })
}

function positiveSeconds (value: number | undefined, what: string): void {
  if (value !== undefined && !(value > 0 && Number.isFinite(value))) throw new UsageError(`${what} must be a positive number of seconds`)
}
