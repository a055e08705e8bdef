/**
 * The v2 identity services a server needs, made from the settings: the init
 * data check (absent when sign-in is not configured), the session tokens and
 * the single-use memory of init data.
 */
import type { Config } from '../config.js'
import { InitDataVerifier } from './init-data.js'
import { identitySecrets } from './keys.js'
import { connectRedisSeenOnce } from './redis-seen-once.js'
import { MemorySeenOnce, type SeenOnce } from './seen-once.js'
import { SessionTokens } from './tokens.js'

export interface Identity {
  /** Undefined when neither TELEGRAM_BOT_TOKEN nor TELEGRAM_BOT_ID is set: sign-in answers 503. Replaceable by tests. */
  verifier: InitDataVerifier | undefined
  readonly tokens: SessionTokens
  readonly seenOnce: SeenOnce
}

export function createVerifier (config: Config): InitDataVerifier | undefined {
  if (config.telegramBotToken === undefined && config.telegramBotId === undefined) return undefined
  return new InitDataVerifier({
    botToken: config.telegramBotToken,
    botId: config.telegramBotId,
    testEnvironment: config.telegramTestEnv,
    maxAgeSeconds: config.initDataMaxAgeSeconds
  })
}

export async function createIdentity (config: Config): Promise<Identity> {
  const store = config.store
  const secrets = identitySecrets(store)
  const seenOnce = store.kind === 'redis'
    ? await connectRedisSeenOnce({ url: store.url, secret: secrets.seenOnce, prefix: store.prefix })
    : new MemorySeenOnce({ secret: secrets.seenOnce, maxEntries: config.maxRememberedSignIns })
  return {
    verifier: createVerifier(config),
    tokens: new SessionTokens({ secret: secrets.token, ttlSeconds: config.sessionTtlSeconds }),
    seenOnce
  }
}
