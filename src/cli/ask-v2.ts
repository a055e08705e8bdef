/**
 * `whatclient ask <target> --init-data <data>`: the v2 ask. Signs in with the
 * init data, asks sealed (only this process can open the answer; `--plain`
 * asks in the clear) and anonymously (`--named` shows the target who asks),
 * opens the answer and names the app from the server's catalogue, and says
 * whether the answer is verified (given by a signed-in target) and whether
 * the target declined. Exit codes as for v1: 0 answered; 2 no answer
 * (declined, expired, timeout; the JSON status says which); 1 error.
 *
 * Everything the server (or a target's app, inside a sealed answer) sends is
 * shown escaped: a sealed package name passed no server check at all.
 */
import type { AnswerOutcome } from 'whatclient-sdk'
import type { AskFlags } from './ask.js'
import { tellTimedOut, timeoutSignal, type Print } from './deadline.js'
import { clientV2From, describeFailure, stopOnSignals, type Credentials } from './connection.js'
import { printable } from './output.js'
import { clock, startProgress, timeOfDay } from './progress.js'

/** A request that ends more than this before its expiry did not simply expire. */
const EARLY_MARGIN_MS = 1000

export async function askV2 (credentials: Credentials & { kind: 'v2' }, targetId: number, flags: AskFlags, print: Print): Promise<void> {
  const json = flags.json === true
  const sealed = flags.plain !== true
  const anonymous = flags.named !== true
  const how = `${sealed ? 'sealed' : 'plain'}, ${anonymous ? 'anonymous' : 'named'}`
  const giveUpAt = flags.timeout === undefined ? undefined : Date.now() + flags.timeout * 1000
  let stage: 'signing in' | 'asking' | 'waiting' = 'signing in'
  let expiresAt: number | undefined
  const progress = startProgress(json ? null : process.stderr, {
    status: () => {
      if (stage === 'signing in') return `Signing in to ${credentials.server}...`
      if (stage === 'asking' || expiresAt === undefined) return `Asking ${credentials.server} which app ${targetId} uses (${how})...`
      const left = expiresAt - Date.now()
      const expiry = left > 0 ? `the request expires in ${clock(left)}` : 'the request should have expired by now'
      return `Waiting for ${targetId} to answer: ${expiry}` + (giveUpAt === undefined ? '' : `; giving up in ${clock(giveUpAt - Date.now())}`)
    },
    plainEveryMs: 15_000
  })
  try {
    const client = clientV2From(credentials.server, {
      onRetry: (err, delayMs) => progress.note(`${describeFailure(err)}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
    })
    const controller = new AbortController()
    stopOnSignals(controller)
    const deadline = timeoutSignal(controller, flags.timeout)
    let requestId: string
    try {
      const session = await client.signIn(credentials.initData, deadline.signal)
      progress.note(`Signed in as ${session.userId}`)
      stage = 'asking'
      requestId = await client.ask(targetId, { sealed, anonymous, signal: deadline.signal })
    } catch (err) {
      if (!deadline.timedOut()) throw err
      progress.stop()
      tellTimedOut(print, targetId, flags.timeout, { before: stage === 'signing in' ? 'sign you in' : 'confirm the question' })
      return
    }
    expiresAt = (client.expiresAt(requestId) ?? Date.now() / 1000) * 1000
    stage = 'waiting'
    progress.note(`Asked ${targetId} (${how}); the request expires in ${clock(expiresAt - Date.now())}, at ${timeOfDay(expiresAt)}`)
    const outcome = await client.waitForAnswer(requestId, {
      timeoutMs: giveUpAt === undefined ? undefined : Math.max(1, giveUpAt - Date.now()),
      signal: controller.signal
    })
    progress.stop()
    tell(outcome, { targetId, anonymous, expiresAt, timeout: flags.timeout }, print)
  } finally {
    progress.stop()
  }
}

function tell (outcome: AnswerOutcome, ask: { targetId: number, anonymous: boolean, expiresAt: number, timeout: number | undefined }, print: Print): void {
  const { targetId } = ask
  if (outcome.status === 'completed') {
    const trust = outcome.verified ? 'verified' : 'unverified (answered through the shared v1 key: anyone with it could have)'
    // The names come from the server, or from the target's app inside a sealed answer: shown escaped, never obeyed.
    print(`${targetId} uses ${printable(outcome.clientName)} (${printable(outcome.packageName)}): ${trust}, ${outcome.sealed ? 'sealed' : 'plain'}`, {
      status: 'completed',
      target: targetId,
      client_name: outcome.clientName,
      package_name: outcome.packageName,
      verified: outcome.verified,
      sealed: outcome.sealed
    })
    return
  }
  if (outcome.status === 'timeout') {
    tellTimedOut(print, targetId, ask.timeout, { openUntil: ask.expiresAt, sameRequestAgain: false })
    return
  }
  process.exitCode = 2
  if (outcome.status === 'declined') {
    print(`${targetId} declined to say which app they use.` +
      (ask.anonymous ? ' Some people answer only those they know: asking with --named shows them who asks.' : ''),
    { status: 'declined', target: targetId })
    return
  }
  const early = Date.now() < ask.expiresAt - EARLY_MARGIN_MS
  print(early
    ? `No answer for this ask: the request ended before its expiry at ${timeOfDay(ask.expiresAt)}. ` +
      'Another ask of yours for the same target (a plain one shares the request) most likely received the answer. Ask again for a fresh answer.'
    : `No answer from ${targetId} before the request expired: they are offline, have no WhatClient, or do not answer.`,
  { status: 'expired', target: targetId, ended_early: early })
}
