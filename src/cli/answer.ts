/**
 * `whatclient answer --as <me> --package <pkg>`: answers one's own tasks with
 * the given package name until interrupted (SIGINT/SIGTERM). A server that
 * cannot be reached or answers 5xx does not stop it: it says that it retries,
 * and when the server is back.
 */
import { Command } from 'commander'
import { clientFrom, describeFailure, parseUserId, reportError, stopOnSignals, UsageError, withConnection, type ConnectionFlags } from './connection.js'
import { printable } from './output.js'

interface AnswerFlags extends ConnectionFlags {
  as: string
  package: string
}

/** Android's rule: two or more dot-separated segments, each a letter then letters, digits or `_`; at most 255 characters. */
const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/
const MAX_PACKAGE_NAME = 255

export function answerCommand (): Command {
  return withConnection(new Command('answer'))
    .description("Answer your own tasks with a package name until stopped")
    .requiredOption('--as <me>', 'your own Telegram user id (the target)')
    .requiredOption('--package <name>', 'the Android package name to answer with, e.g. com.exteragram.messenger')
    .action(async (flags: AnswerFlags) => {
      try {
        const me = parseUserId(flags.as, '--as')
        if (!PACKAGE_NAME.test(flags.package) || flags.package.length > MAX_PACKAGE_NAME) throw new UsageError(`--package is not an Android package name: ${flags.package}`)
        const say = (text: string): void => { process.stderr.write(printable(text) + '\n') }
        // Set by a retry, cleared by the next answer the server gives: says once that it is back.
        let failing = false
        const client = clientFrom(flags, {
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
        })
        const controller = new AbortController()
        stopOnSignals(controller)
        say(`Answering tasks for ${me} as ${flags.package}; Ctrl-C to stop`)
        let answered = 0
        await client.answerTasks(me, flags.package, {
          signal: controller.signal,
          onAnswered: () => say(`answered ${++answered}`)
        })
        say(`stopped after ${answered} answer(s)`)
      } catch (err) {
        reportError(err, false)
      }
    })
}
