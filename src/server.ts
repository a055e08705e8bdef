/**
 * The server process: read settings, build the app, listen, and close
 * gracefully on SIGTERM/SIGINT (held polls answer at once, in-flight requests
 * finish, exit 0 within SHUTDOWN_TIMEOUT_SECONDS).
 */
// First: it must run before the modules below are evaluated (see the file).
import './keep-tick-shape.js'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loadConfig, type Config } from './config.js'
import { WC_ERR_CANNOT_LISTEN } from './errors.js'
import { listen } from './http-servers.js'

/** The majors engines allows (>=20) that have reached end-of-life: 20 on 2026-04-30, the odd ones earlier. */
const END_OF_LIFE_NODE: ReadonlySet<string> = new Set(['20', '21', '23'])

export async function startServer (config: Config = loadConfig()): Promise<void> {
  const app = await buildApp(config)
  // SIGUSR2 stays Node's (heap snapshots on demand with --heapsnapshot-signal), not a shutdown.
  closeWithGrace({
    delay: config.shutdownTimeoutMs,
    logger: false,
    skip: ['SIGUSR2'],
    onTimeout: () => {
      app.log.error({ shutdownTimeoutSeconds: config.shutdownTimeoutMs / 1000 }, 'shutdown did not finish within SHUTDOWN_TIMEOUT_SECONDS: exiting anyway')
      // The process exits right after this: write the last summary and buffered lines now.
      app.flushLogs()
    }
  }, async ({ err }) => {
    if (err !== undefined) app.log.error({ err: { type: (err as Error).name, stack: (err as Error).stack } }, 'closing after an error')
    await app.close()
  })
  try {
    await listen(app, config.host, config.port)
  } catch (error) {
    // Node's words name the address, not the setting to change (a metrics listener's error names its own).
    const { syscall } = error as NodeJS.ErrnoException
    if (syscall !== 'listen' && syscall !== 'getaddrinfo') throw error
    throw new WC_ERR_CANNOT_LISTEN(`HOST=${config.host} PORT=${config.port}: ${(error as Error).message}`, { cause: error })
  }
  // What this run serves, said once: what an operator checks first (no key, no id).
  app.log.info({ node: process.version, store: config.store.kind, v1: config.v1Enabled, signIn: config.telegramBotId !== undefined }, 'serving')
  if (END_OF_LIFE_NODE.has(process.versions.node.split('.')[0] as string)) {
    app.log.warn({ node: process.version }, 'this Node.js is end-of-life and gets no security fixes: run Node 24')
  }
  // Only now is there a server that signs with this key.
  // With v1 off nothing is signed with the key: a banner about it would mislead.
  if (config.apiSecretKeyGenerated && config.v1Enabled) {
    process.stderr.write([
      'WhatClient: API_SECRET_KEY is not set, so this run signs with a random key:',
      `  API_SECRET_KEY=${config.apiSecretKey}`,
      'Plugins, the SDK and the CLI must use the same key. To choose your own, start with',
      '  API_SECRET_KEY=<your key> npm start',
      ''
    ].join('\n'))
  }
}
