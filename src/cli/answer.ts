/**
 * `whatclient answer --as <me> --package <pkg>` (v1, with the shared key) or
 * `whatclient answer --init-data <data> --package <pkg>` (v2, signed in):
 * answers one's own tasks with the given package name until interrupted
 * (SIGINT/SIGTERM). In v2 a sealed question gets a sealed answer, and
 * `--decline` declines every question instead (the asker hears at once).
 * A server that cannot be reached or answers 5xx does not stop it: it says
 * that it retries, and when the server is back.
 */
import { Command } from 'commander'
import { isPackageName, type Task, type WhatClientOptions } from 'whatclient-sdk'
import {
  clientFrom, clientV2From, credentialsFrom, describeFailure, parseUserId, reportError, stopOnSignals, UsageError, withConnection, withInitData,
  type ConnectionFlags, type Credentials
} from './connection.js'
import { printable } from './output.js'

interface AnswerFlags extends ConnectionFlags {
  as?: string
  package?: string
  decline?: boolean
}

type Say = (text: string) => void

export function answerCommand (): Command {
  return withInitData(withConnection(new Command('answer')))
    .description('Answer your own tasks with a package name until stopped (v1 with --key, v2 with --init-data)')
    .option('--as <me>', 'v1: your own Telegram user id (the target); in v2 you are the user your init data names')
    .option('--package <name>', 'the Android package name to answer with, e.g. com.exteragram.messenger')
    .option('--decline', 'v2: decline every question instead of answering it')
    .action(async (flags: AnswerFlags, command: Command) => {
      try {
        const credentials = credentialsFrom(flags, command)
        const declining = flags.decline === true
        if (declining && credentials.kind === 'v1') throw new UsageError('--decline is for v2 (--init-data): v1 has no way to decline')
        if (declining && flags.package !== undefined) throw new UsageError('pass either --package (answer) or --decline, not both')
        if (!declining && flags.package === undefined) throw new UsageError('--package <name> is needed (or --decline, in v2)')
        if (flags.package !== undefined && !isPackageName(flags.package)) throw new UsageError(`--package is not an Android package name: ${flags.package}`)
        if (credentials.kind === 'v2' && flags.as !== undefined) throw new UsageError('--as is for v1 (--key): in v2 you are the user your init data names')
        if (credentials.kind === 'v1' && flags.as === undefined) throw new UsageError('v1 needs --as <me>, your own Telegram user id (or --init-data for v2)')

        const say: Say = (text) => { process.stderr.write(printable(text) + '\n') }
        const controller = new AbortController()
        stopOnSignals(controller)
        const hooks = reconnectHooks(say)
        if (credentials.kind === 'v1') {
          await answerV1(credentials, parseUserId(flags.as as string, '--as'), flags.package as string, hooks, controller.signal, say)
        } else {
          await answerV2(credentials, flags.package, hooks, controller.signal, say)
        }
      } catch (err) {
        reportError(err, false)
      }
    })
}

/** Says when a call is retried, and once when the server answers again. */
function reconnectHooks (say: Say): Pick<WhatClientOptions, 'onRetry' | 'fetch'> {
  // Set by a retry, cleared by the next answer the server gives: says once that it is back.
  let failing = false
  return {
    onRetry: (err, delayMs) => {
      failing = true
      say(`${describeFailure(err)}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
    },
    fetch: async (input, init) => {
      const res = await fetch(input, init)
      if (failing && res.ok) {
        failing = false
        say('reached the server again')
      }
      return res
    }
  }
}

async function answerV1 (credentials: Credentials & { kind: 'v1' }, me: number, packageName: string, hooks: Pick<WhatClientOptions, 'onRetry' | 'fetch'>,
  signal: AbortSignal, say: Say): Promise<void> {
  const client = clientFrom({ server: credentials.server, key: credentials.key }, hooks)
  say(`Answering tasks for ${me} as ${packageName}; Ctrl-C to stop`)
  let answered = 0
  await client.answerTasks(me, packageName, { signal, onAnswered: () => say(`answered ${++answered}`) })
  say(`stopped after ${answered} answer(s)`)
}

/**
 * The init data is single use, so the session cannot be renewed here: when
 * it ends (SESSION_TTL_SECONDS, or a server restarted without shared keys),
 * the command stops with the server's 401 and asks for fresh init data.
 */
async function answerV2 (credentials: Credentials & { kind: 'v2' }, packageName: string | undefined, hooks: Pick<WhatClientOptions, 'onRetry' | 'fetch'>,
  signal: AbortSignal, say: Say): Promise<void> {
  const client = clientV2From(credentials.server, hooks)
  const session = await client.signIn(credentials.initData, signal)
  say(packageName === undefined
    ? `Declining every question about ${session.userId}; Ctrl-C to stop`
    : `Answering questions about ${session.userId} as ${packageName}; Ctrl-C to stop`)
  let answered = 0
  let declined = 0
  const onAnswered = (task: Task, action: 'answered' | 'declined'): void => {
    if (action === 'answered') answered++
    else declined++
    say(`${action} ${action === 'answered' ? answered : declined}: ${describeTask(task)}`)
  }
  if (packageName === undefined) await client.declineTasks({ signal, onAnswered })
  else await client.answerTasks(packageName, { signal, onAnswered })
  say(`stopped after ${answered} answer(s) and ${declined} decline(s)`)
}

/** Who asked and how, as far as the task says. */
function describeTask (task: Task): string {
  const who = task.requesterId === null ? 'anonymous' : `from ${task.requesterId}`
  return `${who}, ${task.verified ? 'verified' : 'unverified (v1)'}, ${task.publicKey === undefined ? 'plain' : 'sealed'}`
}
