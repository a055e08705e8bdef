/**
 * `whatclient answer --as <me> --package <pkg>`: answers one's own tasks with
 * the given package name until interrupted (SIGINT/SIGTERM).
 */
import { Command } from 'commander'
import { clientFrom, parseUserId, reportError, stopOnSignals, UsageError, withConnection, type ConnectionFlags } from './connection.js'

interface AnswerFlags extends ConnectionFlags {
  as: string
  package: string
}

const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$/

export function answerCommand (): Command {
  return withConnection(new Command('answer'))
    .description("Answer your own tasks with a package name until stopped")
    .requiredOption('--as <me>', 'your own Telegram user id (the target)')
    .requiredOption('--package <name>', 'the Android package name to answer with, e.g. com.exteragram.messenger')
    .action(async (flags: AnswerFlags) => {
      try {
        const me = parseUserId(flags.as, '--as')
        if (!PACKAGE_NAME.test(flags.package) || flags.package.length > 256) throw new UsageError(`--package is not an Android package name: ${flags.package}`)
        const client = clientFrom(flags)
        const controller = new AbortController()
        stopOnSignals(controller)
        process.stderr.write(`Answering tasks for ${me} as ${flags.package}; Ctrl-C to stop\n`)
        let answered = 0
        await client.answerTasks(me, flags.package, {
          signal: controller.signal,
          onAnswered: () => process.stderr.write(`answered ${++answered}\n`)
        })
        process.stderr.write(`stopped after ${answered} answer(s)\n`)
      } catch (err) {
        reportError(err, false)
      }
    })
}
