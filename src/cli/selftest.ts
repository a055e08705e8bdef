/**
 * `whatclient selftest --server URL --key K`: checks a deployment end to end
 * from outside (see selftest-checks.ts), one line per check, `ok` or `FAIL`
 * and what was seen. Exit 0 when every check passed, 1 otherwise.
 */
import { Command } from 'commander'
import { connectionFrom, reportError, withConnection, type ConnectionFlags } from './connection.js'
import { printable } from './output.js'
import { checksFor, CheckFailed, Unreachable, type Credentials } from './selftest-checks.js'

const CALL_TIMEOUT_MS = 10_000

export function selftestCommand (): Command {
  return withConnection(new Command('selftest'))
    .description('Check a deployment from outside: health, refused forgeries, a full flow, long-poll latency')
    .action(async (flags: ConnectionFlags) => {
      try {
        const { server, key } = connectionFrom(flags)
        // v2 (--init-data) will choose other credentials here; see Credentials.
        const credentials: Credentials = { kind: 'v1', key }
        const checks = checksFor(server, credentials, { callTimeoutMs: CALL_TIMEOUT_MS })
        const say = (text: string): void => { process.stdout.write(printable(text) + '\n') }
        say(`Checking ${server}`)
        let passed = 0
        let failed = 0
        for (const check of checks) {
          try {
            say(`ok    ${check.name}: ${await check.run()}`)
            passed++
          } catch (err) {
            failed++
            say(`FAIL  ${check.name}: ${err instanceof CheckFailed ? err.message : String(err)}`)
            if (err instanceof Unreachable) break
          }
        }
        const skipped = checks.length - passed - failed
        if (skipped > 0) say(`skip  the other ${skipped} checks: they need the server`)
        say(failed === 0 ? `all ${checks.length} checks passed` : `${failed} of ${checks.length} checks failed` + (skipped > 0 ? `, ${skipped} skipped` : ''))
        process.exitCode = failed === 0 ? 0 : 1
      } catch (err) {
        reportError(err, false)
      }
    })
}
