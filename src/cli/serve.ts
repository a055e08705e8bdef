/**
 * `whatclient serve`: the server, configured by environment variables.
 */
import { Command } from 'commander'
import { loadConfig } from '../config.js'
import { startServer } from '../server.js'

export function serveCommand (): Command {
  return new Command('serve')
    .description('Run the WhatClient server (settings come from the environment; see the README)')
    .action(async () => {
      let config
      try {
        config = loadConfig()
      } catch (err) {
        process.stderr.write(`whatclient: ${(err as Error).message}\n`)
        process.exitCode = 1
        return
      }
      try {
        await startServer(config)
      } catch (err) {
        // A coded start-up error names its code, as Node names its own: what to look up in docs/operations.md.
        const code = (err as { code?: unknown }).code
        const tag = typeof code === 'string' && code.startsWith('WC_ERR_') ? ` [${code}]` : ''
        process.stderr.write(`whatclient: cannot start${tag}: ${(err as Error).message}\n`)
        process.exit(1)
      }
    })
}
