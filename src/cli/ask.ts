/**
 * `whatclient ask <target> --as <me>`: asks which client a user runs, shows
 * progress while it waits, prints the answer. Exit 0 answered, 2 no answer
 * before expiry (or --timeout), 1 error.
 */
import { Command, Option } from 'commander'
import { clientFrom, parseUserId, reportError, UsageError, withConnection, type ConnectionFlags } from './connection.js'
import { jsonLine, printable } from './output.js'

interface AskFlags extends ConnectionFlags {
  as: string
  json?: boolean
  timeout?: number
}

export function askCommand (): Command {
  return withConnection(new Command('ask'))
    .description('Ask which Telegram client a user runs')
    .argument('<target>', "the target's Telegram user id")
    .requiredOption('--as <me>', 'your own Telegram user id (the requester)')
    .addOption(new Option('--timeout <seconds>', 'give up after this long (default: until the request expires)').argParser(Number))
    .option('--json', 'print one JSON object on stdout, nothing else')
    .action(async (target: string, flags: AskFlags) => {
      const progress = flags.json === true ? () => {} : (text: string) => process.stderr.write(text)
      const print = (text: string, json: object): void => {
        process.stdout.write(flags.json === true ? jsonLine(json) : text + '\n')
      }
      try {
        const me = parseUserId(flags.as, '--as')
        const targetId = parseUserId(target, 'target')
        if (flags.timeout !== undefined && !(flags.timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds')
        const client = clientFrom(flags)
        const controller = new AbortController()
        process.once('SIGINT', () => controller.abort())
        const requestId = await client.requestClient(me, targetId, controller.signal)
        progress(`Asked; waiting for ${targetId} to answer`)
        const started = Date.now()
        const outcome = await client.waitForResult(requestId, {
          timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000,
          signal: controller.signal,
          onPending: () => progress(` .. ${Math.round((Date.now() - started) / 1000)}s`)
        })
        progress('\n')
        if (outcome.status === 'completed') {
          // The names come from the server: shown escaped, never obeyed.
          print(`${targetId} uses ${printable(outcome.clientName)}${outcome.packageName === undefined ? '' : ` (${printable(outcome.packageName)})`}`,
            { status: 'completed', target: targetId, client_name: outcome.clientName, package_name: outcome.packageName ?? null })
          return
        }
        print(`No answer from ${targetId}: offline, without WhatClient, or not answering.`, { status: outcome.status, target: targetId })
        process.exitCode = 2
      } catch (err) {
        reportError(err, flags.json === true)
      }
    })
}
