/**
 * Settings from the environment: each has a default, is validated at start,
 * and a bad value stops the process with a message that names the variable.
 * The README lists every one of them.
 */
import { randomBytes } from 'node:crypto'
import envSchema from 'env-schema'
import { Type, type Static } from 'typebox'
import { WC_ERR_CONFIG } from './errors.js'

const EnvSchema = Type.Object({
  API_SECRET_KEY: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  REQUEST_TTL_SECONDS: Type.Number({ exclusiveMinimum: 0, maximum: 86400, default: 120 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  LOG_SUMMARY_SECONDS: Type.Number({ minimum: 0.1, maximum: 86400, default: 60 }),
  MAX_PENDING_PER_TARGET: Type.Integer({ minimum: 1, maximum: 100000, default: 32 }),
  MAX_PENDING_TOTAL: Type.Integer({ minimum: 1, maximum: 100000000, default: 1000000 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 256, maximum: 1048576, default: 16384 }),
  MAX_WAIT_SECONDS: Type.Number({ minimum: 0, maximum: 300, default: 30 }),
  MAX_HELD_POLLS_PER_USER: Type.Integer({ minimum: 1, maximum: 10000, default: 4 }),
  MAX_HELD_POLLS_TOTAL: Type.Integer({ minimum: 1, maximum: 10000000, default: 100000 }),
  SHUTDOWN_TIMEOUT_SECONDS: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 10 }),
  RETRY_GRACE_SECONDS: Type.Number({ minimum: 1, maximum: 600, default: 30 }),
  STORE: Type.Enum(['memory', 'redis'], { default: 'memory' }),
  REDIS_URL: Type.String({ minLength: 1, default: 'redis://127.0.0.1:6379' }),
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, maxLength: 64, default: 'wc:' }),
  STORE_KEY: Type.Optional(Type.String({ minLength: 1 }))
})

type Env = Static<typeof EnvSchema>

export interface Config {
  /** The shared v1 signing key. */
  apiSecretKey: string
  /** True when no API_SECRET_KEY was given and a random one was made for this run. */
  apiSecretKeyGenerated: boolean
  host: string
  port: number
  requestTtlMs: number
  logLevel: Env['LOG_LEVEL']
  logSummaryMs: number
  maxPendingPerTarget: number
  maxPendingTotal: number
  bodyLimitBytes: number
  maxWaitSeconds: number
  maxHeldPollsPerUser: number
  maxHeldPollsTotal: number
  shutdownTimeoutMs: number
  /** How long an answer stays retrievable by a retried call (a lost reply must not lose it). */
  retryGraceMs: number
  store: StoreConfig
}

/** Where requests live: in this process, or in a Redis shared by every instance. */
export type StoreConfig =
  | { kind: 'memory' }
  | {
    kind: 'redis'
    url: string
    /** Prefix of every key and channel. */
    prefix: string
    /** 32 bytes shared by all instances: seals what Redis holds, never sent there. */
    key: Buffer
  }

export const STORE_KEY_HINT = 'make one with: node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))"'

/** Reads and validates settings; throws WC_ERR_CONFIG naming what is wrong. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  let parsed: Env
  try {
    parsed = envSchema<Env>({ schema: EnvSchema, data: { ...env }, dotenv: false })
  } catch (err) {
    throw new WC_ERR_CONFIG(String(err instanceof Error ? err.message : err).replaceAll('env/', ''))
  }
  return {
    apiSecretKey: parsed.API_SECRET_KEY ?? randomBytes(24).toString('base64url'),
    apiSecretKeyGenerated: parsed.API_SECRET_KEY === undefined,
    host: parsed.HOST,
    port: parsed.PORT,
    requestTtlMs: Math.round(parsed.REQUEST_TTL_SECONDS * 1000),
    logLevel: parsed.LOG_LEVEL,
    logSummaryMs: Math.round(parsed.LOG_SUMMARY_SECONDS * 1000),
    maxPendingPerTarget: parsed.MAX_PENDING_PER_TARGET,
    maxPendingTotal: parsed.MAX_PENDING_TOTAL,
    bodyLimitBytes: parsed.BODY_LIMIT_BYTES,
    maxWaitSeconds: parsed.MAX_WAIT_SECONDS,
    maxHeldPollsPerUser: parsed.MAX_HELD_POLLS_PER_USER,
    maxHeldPollsTotal: parsed.MAX_HELD_POLLS_TOTAL,
    shutdownTimeoutMs: Math.round(parsed.SHUTDOWN_TIMEOUT_SECONDS * 1000),
    retryGraceMs: Math.round(parsed.RETRY_GRACE_SECONDS * 1000),
    store: storeConfig(parsed)
  }
}

function storeConfig (parsed: Env): StoreConfig {
  // A bad STORE_KEY stops the start even in memory mode, where it is unused: it says the settings are off.
  const key = parsed.STORE_KEY === undefined ? undefined : decodeStoreKey(parsed.STORE_KEY)
  if (parsed.STORE === 'memory') return { kind: 'memory' }
  if (key === undefined) {
    throw new WC_ERR_CONFIG(`STORE=redis needs STORE_KEY, a secret shared by all instances and never stored in Redis (32 bytes, base64 or hex); ${STORE_KEY_HINT}`)
  }
  return { kind: 'redis', url: parsed.REDIS_URL, prefix: parsed.REDIS_KEY_PREFIX, key }
}

function decodeStoreKey (text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (key.length !== 32) throw new WC_ERR_CONFIG(`STORE_KEY must be 32 bytes in base64 or hex (got ${key.length} bytes); ${STORE_KEY_HINT}`)
  return key
}
