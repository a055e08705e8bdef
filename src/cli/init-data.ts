/**
 * `whatclient init-data --user <id>`: prints Telegram Mini App init data for
 * that user, signed (`hash`) with TELEGRAM_BOT_TOKEN from the environment,
 * as Telegram would sign it for the bot. Operators test their own deployment
 * with it (`ask`/`answer`/`selftest --init-data`) without a phone. Whoever
 * holds the bot token can sign in as anyone: this is the operator's tool,
 * which is why it reads the token only from the environment (never a flag,
 * which other users of the machine could read in the process list).
 */
import { Command, Option } from 'commander'
import { loadIdentitySettings } from '../config.js'
import { signInitData } from '../identity/init-data.js'
import { parseUserId, reportError, UsageError } from './connection.js'

interface InitDataFlags {
  user: string
  authDate?: number
}

export function initDataCommand (): Command {
  return new Command('init-data')
    .description("Print init data for a user, signed with TELEGRAM_BOT_TOKEN from the environment (the operator's test sign-in)")
    .requiredOption('--user <id>', 'the Telegram user id to sign in as')
    .addOption(new Option('--auth-date <unix seconds>', 'the signing time (default: now; the server takes it for INIT_DATA_MAX_AGE_SECONDS)').argParser(Number))
    .action((flags: InitDataFlags) => {
      try {
        const user = parseUserId(flags.user, '--user')
        const token = process.env.TELEGRAM_BOT_TOKEN
        if (token === undefined || token === '') {
          throw new UsageError("TELEGRAM_BOT_TOKEN is not set: init-data signs with the bot token of the server to test, from the environment")
        }
        // The server's own check of the setting, so that a token it would refuse is refused here too.
        try {
          loadIdentitySettings({ TELEGRAM_BOT_TOKEN: token })
        } catch (err) {
          throw new UsageError((err as Error).message)
        }
        const authDate = flags.authDate
        if (authDate !== undefined && !(Number.isSafeInteger(authDate) && authDate >= 0)) throw new UsageError('--auth-date must be unix seconds, a whole number')
        process.stdout.write(signInitData({ botToken: token, user, ...(authDate === undefined ? {} : { authDate }) }) + '\n')
      } catch (err) {
        reportError(err, false)
      }
    })
}
