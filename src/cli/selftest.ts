/**
 * `whatclient selftest --server URL --key K` (v1) or `... --init-data A
 * --init-data-target B` / `... --v2` (v2): checks a deployment end to end
 * from outside (selftest-checks.ts, selftest-v2.ts), one line per check,
 * `ok`, `FAIL` or `skip` and what was seen. Exit 0 when every check passed,
 * 1 otherwise.
 *
 * v2 needs two users, an asker and a target. Their init data comes from the
 * flags (real Telegram accounts kept for testing: a target's own plugin would
 * race the self-test for its questions), or, for either one not given, is
 * signed here for a random test user with TELEGRAM_BOT_TOKEN from the
 * environment (the operator's run on the server's host).
 */
import { Command, Option } from 'commander'
import { signInitData } from '../identity/init-data.js'
import { connectionFrom, reportError, serverFrom, UsageError, withConnection, withInitData, type ConnectionFlags } from './connection.js'
import { printable } from './output.js'
import {
  CheckFailed, healthChecks, Http, Skipped, testUserId, unknownPathCheck, Unreachable, v1Checks,
  type Check, type SelftestCredentials
} from './selftest-checks.js'
import { v2Checks } from './selftest-v2.js'

const CALL_TIMEOUT_MS = 10_000

interface SelftestFlags extends ConnectionFlags {
  initDataTarget?: string
  v2?: boolean
}

export function selftestCommand (): Command {
  return withInitData(withConnection(new Command('selftest')))
    .description('Check a deployment from outside: health, refused forgeries, full flows, long-poll latency (v1 with --key, v2 with --init-data or --v2)')
    .addOption(new Option('--init-data-target <data>', "v2: the target user's init data (the flows need two users)").env('WHATCLIENT_INIT_DATA_TARGET'))
    .option('--v2', 'check v2; init data not given is signed for random test users with TELEGRAM_BOT_TOKEN from the environment')
    .action(async (flags: SelftestFlags, command: Command) => {
      try {
        const server = serverFrom(flags)
        const credentials = credentialsFor(flags, command)
        const http = new Http(server, CALL_TIMEOUT_MS)
        const checks: Check[] = [
          ...healthChecks(http),
          ...(credentials.kind === 'v1' ? v1Checks(http, credentials.key) : v2Checks(http, credentials)),
          unknownPathCheck(http)
        ]
        process.exitCode = await run(server, checks)
      } catch (err) {
        reportError(err, false)
      }
    })
}

/** v2 when asked for (--v2, init data on the command line or in the environment), else v1 with the key. */
function credentialsFor (flags: SelftestFlags, command: Command): SelftestCredentials {
  const given = (value: string | undefined): string | undefined => value === '' ? undefined : value
  const asker = given(flags.initData)
  const target = given(flags.initDataTarget)
  if (flags.v2 !== true && asker === undefined && target === undefined) return { kind: 'v1', key: connectionFrom(flags).key }
  if (command.getOptionValueSource('key') === 'cli') throw new UsageError('--key is for the v1 checks: run selftest once per version')
  const botToken = given(process.env.TELEGRAM_BOT_TOKEN)
  const signed = (): string | undefined => botToken === undefined ? undefined : signInitData({ botToken, user: testUserId() })
  const askerData = asker ?? signed()
  const targetData = target ?? signed()
  if (askerData === undefined || targetData === undefined) {
    throw new UsageError('the v2 checks need two users: pass --init-data and --init-data-target, ' +
      'or set TELEGRAM_BOT_TOKEN (the server\'s) to let selftest sign its own test users')
  }
  return { kind: 'v2', asker: askerData, target: targetData }
}

async function run (server: string, checks: Check[]): Promise<number> {
  const say = (text: string): void => { process.stdout.write(printable(text) + '\n') }
  say(`Checking ${server}`)
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const check of checks) {
    try {
      say(`ok    ${check.name}: ${await check.run()}`)
      passed++
    } catch (err) {
      if (err instanceof Skipped) {
        skipped++
        say(`skip  ${check.name}: ${err.message}`)
        continue
      }
      failed++
      say(`FAIL  ${check.name}: ${err instanceof CheckFailed ? err.message : String(err)}`)
      if (err instanceof Unreachable) break
    }
  }
  const notRun = checks.length - passed - failed - skipped
  if (notRun > 0) say(`skip  the other ${notRun} checks: they need the server`)
  skipped += notRun
  say(failed === 0 && skipped === 0
    ? `all ${checks.length} checks passed`
    : `${failed} of ${checks.length} checks failed` + (skipped > 0 ? `, ${skipped} skipped` : ''))
  return failed === 0 && skipped === 0 ? 0 : 1
}
