/**
 * The v2 identity services a server needs, made from the settings: the init
 * data check (absent when sign-in is not configured), the session tokens and
 * the single-use memory of init data (in Redis mode, on the task store's
 * connection).
 */
import type { Config } from '../config.js'
import type { TaskStore } from '../store/task-store.js'
import { InitDataVerifier } from './init-data.js'
import { identitySecrets } from './keys.js'
import { RedisSeenOnce, type SetOnce } from './redis-seen-once.js'
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

/** The Redis task store's setOnce (Redis mode's task store is always the Redis one). */
function setOnceOf (store: TaskStore): SetOnce {
  if (!('setOnce' in store) || typeof store.setOnce !== 'function') throw new TypeError('Redis mode needs the Redis task store')
  return store as TaskStore & SetOnce
}

export function createIdentity (config: Config, store: TaskStore): Identity {
  const secrets = identitySecrets(config.store)
  const seenOnce = config.store.kind === 'redis'
    ? new RedisSeenOnce({ redis: setOnceOf(store), secret: secrets.seenOnce })
    : new MemorySeenOnce({ secret: secrets.seenOnce, maxEntries: config.maxRememberedSignIns })
  const tokens = new SessionTokens({ secret: secrets.token, ttlSeconds: config.sessionTtlSeconds })
  // Its keys are in the token contexts now: the secret they derive from need not stay.
  secrets.token.fill(0)
  return { verifier: createVerifier(config), tokens, seenOnce }
}
