/**
 * Settings from the environment: each has a default, is validated at start,
 * and a bad value stops the process with a message that names the variable.
 * The README lists every one of them.
 */
import { randomBytes } from 'node:crypto'
import envSchema from 'env-schema'
import { Type, type Static } from 'typebox'
import { WC_ERR_CONFIG } from './errors.js'
// How a number setting must be written: env-schema alone would read "1e400" as Infinity, "0x10" as 16, " 5" as 5.
import { PLAIN_DECIMAL, PLAIN_WHOLE } from './plain-numbers.js'

const EnvSchema = Type.Object({
  API_SECRET_KEY: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  REQUEST_TTL_SECONDS: Type.Number({ minimum: 0.001, maximum: 86400, default: 120 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  LOG_SUMMARY_SECONDS: Type.Number({ minimum: 0.1, maximum: 86400, default: 60 }),
  MAX_PENDING_PER_TARGET: Type.Integer({ minimum: 1, maximum: 100000, default: 32 }),
  MAX_PENDING_TOTAL: Type.Integer({ minimum: 1, maximum: 100000000, default: 1000000 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 256, maximum: 1048576, default: 16384 }),
  MAX_WAIT_SECONDS: Type.Number({ minimum: 0, maximum: 300, default: 30 }),
  MAX_HELD_POLLS_PER_USER: Type.Integer({ minimum: 1, maximum: 10000, default: 4 }),
  MAX_HELD_POLLS_TOTAL: Type.Integer({ minimum: 1, maximum: 10000000, default: 100000 }),
  MAX_PIPELINED_CALLS: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
  SHUTDOWN_TIMEOUT_SECONDS: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 10 }),
  RETRY_GRACE_SECONDS: Type.Number({ minimum: 1, maximum: 600, default: 30 }),
  STORE: Type.Enum(['memory', 'redis'], { default: 'memory' }),
  REDIS_URL: Type.String({ minLength: 1, default: 'redis://127.0.0.1:6379' }),
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, maxLength: 64, default: 'wc:' }),
  STORE_KEY: Type.Optional(Type.String({ minLength: 1 })),
  // Metrics (docs/operations.md): off unless METRICS_PORT is set.
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 }))
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
  /** Calls one connection may have queued behind the one being answered (pipelined-calls.ts). */
  maxPipelinedCalls: number
  shutdownTimeoutMs: number
  /** How long an answer stays retrievable by a retried call (a lost reply must not lose it). */
  retryGraceMs: number
  store: StoreConfig
  /** Where /metrics is served; metricsPort undefined: metrics off, 0: a free port. */
  metricsHost: string
  metricsPort: number | undefined
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

/**
 * Refuses a value not written as its setting takes it, naming the variable and what it
 * takes: env-schema's own words name no allowed value ("must be equal to one of the
 * allowed values", "must be boolean").
 */
function requireWellWritten (schema: { properties: Record<string, unknown> }, env: NodeJS.ProcessEnv): void {
  for (const [name, property] of Object.entries(schema.properties)) {
    const value = env[name]
    if (value === undefined) continue
    const { type, enum: allowed, minLength } = property as { type?: unknown, enum?: unknown[], minLength?: number }
    const got = `(got ${JSON.stringify(value.slice(0, 40))})`
    // A line such as `API_SECRET_KEY=` in an env file: most likely a value still to fill in.
    if (value === '' && (type !== 'string' || (minLength ?? 0) > 0)) throw new WC_ERR_CONFIG(`${name} is empty: give it a value, or leave it unset for its default`)
    if (type === 'integer' && !PLAIN_WHOLE.test(value)) throw new WC_ERR_CONFIG(`${name} must be a whole number written plainly, such as 30 ${got}`)
    if (type === 'number' && !PLAIN_DECIMAL.test(value)) throw new WC_ERR_CONFIG(`${name} must be a plain decimal number such as 30 or 0.5 ${got}`)
    if (type === 'boolean' && value !== 'true' && value !== 'false') throw new WC_ERR_CONFIG(`${name} must be true or false ${got}`)
    if (allowed !== undefined && !allowed.includes(value)) throw new WC_ERR_CONFIG(`${name} must be one of ${allowed.join(', ')} ${got}`)
  }
}

/** `env` read by `schema`: each value checked as it is written, then as the schema takes it. */
function parseEnv<T> (schema: { properties: Record<string, unknown> }, env: NodeJS.ProcessEnv): T {
  requireWellWritten(schema, env)
  try {
    return envSchema<T>({ schema, data: { ...env }, dotenv: false })
  } catch (err) {
    throw new WC_ERR_CONFIG(String(err instanceof Error ? err.message : err).replaceAll('env/', ''))
  }
}

/** REDIS_URL as node-redis reads it: a redis:// or rediss:// URL. */
function requireRedisUrl (url: string): void {
  let protocol: string | undefined
  try {
    protocol = new URL(url).protocol
  } catch {}
  // Never echoed: it may carry a password.
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new WC_ERR_CONFIG('REDIS_URL must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379')
}

/** Reads and validates settings; throws WC_ERR_CONFIG naming what is wrong. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = parseEnv<Env>(EnvSchema, env)
  const store = storeConfig(parsed)
  const identity = loadIdentitySettings(env)
  if (store.kind === 'redis' && parsed.API_SECRET_KEY === undefined && identity.v1Enabled) {
    // A random key per instance: behind a balancer, a v1 call signed for one would be refused by the others.
    throw new WC_ERR_CONFIG('STORE=redis needs API_SECRET_KEY, the same on every instance (the plugins\' key), or V1_ENABLED=false')
  }
  if (!identity.v1Enabled && identity.telegramBotId === undefined) {
    throw new WC_ERR_CONFIG('V1_ENABLED=false leaves nothing to serve without sign-in: set TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_ID), or leave v1 on')
  }
  // Its default is capped at the per-target cap (create-store.ts); a value chosen above it is a mistake.
  if (env.MAX_UNVERIFIED_PER_TARGET !== undefined && identity.maxUnverifiedPerTarget > parsed.MAX_PENDING_PER_TARGET) {
    throw new WC_ERR_CONFIG(`MAX_UNVERIFIED_PER_TARGET (${identity.maxUnverifiedPerTarget}) is counted inside MAX_PENDING_PER_TARGET (${parsed.MAX_PENDING_PER_TARGET}): it cannot be larger`)
  }
  for (const name of ['HOST', 'METRICS_HOST'] as const) {
    // As in a URL: the listen address is the address alone.
    if (/^\[.*\]$/.test(parsed[name])) throw new WC_ERR_CONFIG(`${name} takes an IPv6 address without brackets, such as ${name}=::1`)
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
    maxPipelinedCalls: parsed.MAX_PIPELINED_CALLS,
    shutdownTimeoutMs: Math.round(parsed.SHUTDOWN_TIMEOUT_SECONDS * 1000),
    retryGraceMs: Math.round(parsed.RETRY_GRACE_SECONDS * 1000),
    store,
    ...metricsSettings(parsed),
    ...identity
  }
}

function storeConfig (parsed: Env): StoreConfig {
  // A bad STORE_KEY stops the start even in memory mode, where it is unused: it says the settings are off.
  const key = parsed.STORE_KEY === undefined ? undefined : decodeStoreKey(parsed.STORE_KEY)
  if (parsed.STORE === 'memory') return { kind: 'memory' }
  requireRedisUrl(parsed.REDIS_URL)
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

function metricsSettings (parsed: Env): Pick<Config, 'metricsHost' | 'metricsPort'> {
  if (parsed.METRICS_PORT !== undefined && parsed.METRICS_PORT !== 0 && parsed.METRICS_PORT === parsed.PORT) {
    throw new WC_ERR_CONFIG(`METRICS_PORT must differ from PORT (${parsed.PORT}): metrics are served apart from the public port`)
  }
  return { metricsHost: parsed.METRICS_HOST, metricsPort: parsed.METRICS_PORT }
}

// --- v2: verified identity (docs/protocol.md, "Version 2") ----------------------------
// Kept apart from the settings above: their own schema, their own block of Config.

const IdentityEnvSchema = Type.Object({
  TELEGRAM_BOT_TOKEN: Type.Optional(Type.String()),
  TELEGRAM_BOT_ID: Type.Optional(Type.String()),
  TELEGRAM_BOT_USERNAME: Type.Optional(Type.String()),
  TELEGRAM_TEST_ENV: Type.Boolean({ default: false }),
  WEBAPP_URL: Type.Optional(Type.String()),
  INIT_DATA_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, maximum: 2147483647, default: 300 }),
  SESSION_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 31536000, default: 86400 }),
  ASK_LIMIT_PER_HOUR: Type.Integer({ minimum: 1, maximum: 1000000, default: 60 }),
  V1_ENABLED: Type.Boolean({ default: true }),
  MAX_UNVERIFIED_PER_TARGET: Type.Integer({ minimum: 1, maximum: 100000, default: 4 }),
  MAX_REMEMBERED_SIGN_INS: Type.Integer({ minimum: 1, maximum: 100000000, default: 100000 }),
  MAX_SIGNED_IN_USERS: Type.Integer({ minimum: 1, maximum: 100000000, default: 1000000 })
})

type IdentityEnv = Static<typeof IdentityEnvSchema>

/** The v2 settings; Config carries them too (declaration merging keeps this block separate). */
export interface Config extends IdentitySettings {}

export interface IdentitySettings {
  /** TELEGRAM_BOT_TOKEN: sign-in checks init data's `hash` with it. */
  telegramBotToken: string | undefined
  /** TELEGRAM_BOT_ID, or the number before ':' in the bot token. Without a token, sign-in checks `signature` for it. */
  telegramBotId: number | undefined
  /** TELEGRAM_BOT_USERNAME without '@': the bot whose Mini App plugins ask Telegram about. */
  telegramBotUsername: string | undefined
  /** TELEGRAM_TEST_ENV: Telegram's test environment (its own Ed25519 key). */
  telegramTestEnv: boolean
  /** WEBAPP_URL: the bot's Mini App URL (https). */
  webappUrl: string | undefined
  initDataMaxAgeSeconds: number
  sessionTtlSeconds: number
  askLimitPerHour: number
  /** V1_ENABLED: false switches the four v1 calls off (404). */
  v1Enabled: boolean
  maxUnverifiedPerTarget: number
  /** Bound of the in-memory single-use memory of init data (memory mode). */
  maxRememberedSignIns: number
  /** Memory mode: most users marked signed in (shielded from v1), and most askers with a quota in use, at once. */
  maxSignedInUsers: number
}

const BOT_TOKEN = /^([1-9][0-9]{0,15}):[A-Za-z0-9_-]{20,128}$/
const BOT_ID = /^[1-9][0-9]{0,15}$/
const BOT_USERNAME = /^@?([A-Za-z][A-Za-z0-9_]{3,31})$/

/** The v2 settings; throws WC_ERR_CONFIG naming the variable, never echoing a secret. */
export function loadIdentitySettings (env: NodeJS.ProcessEnv = process.env): IdentitySettings {
  const parsed = parseEnv<IdentityEnv>(IdentityEnvSchema, env)
  const token = parsed.TELEGRAM_BOT_TOKEN === '' ? undefined : parsed.TELEGRAM_BOT_TOKEN
  const idText = parsed.TELEGRAM_BOT_ID === '' ? undefined : parsed.TELEGRAM_BOT_ID
  const username = parsed.TELEGRAM_BOT_USERNAME === '' ? undefined : parsed.TELEGRAM_BOT_USERNAME
  const webappUrl = parsed.WEBAPP_URL === '' ? undefined : parsed.WEBAPP_URL

  const tokenMatch = token === undefined ? undefined : BOT_TOKEN.exec(token)
  if (tokenMatch === null) throw new WC_ERR_CONFIG('TELEGRAM_BOT_TOKEN must be the token BotFather gave, "<bot id>:<secret>" (for example 123456789:AA...)')
  if (idText !== undefined && !BOT_ID.test(idText)) throw new WC_ERR_CONFIG('TELEGRAM_BOT_ID must be the bot\'s numeric id (the number before ":" in its token)')
  const tokenBotId = tokenMatch?.[1]
  if (idText !== undefined && tokenBotId !== undefined && idText !== tokenBotId) {
    throw new WC_ERR_CONFIG(`TELEGRAM_BOT_ID (${idText}) does not match the bot id in TELEGRAM_BOT_TOKEN (${tokenBotId}); set one of them, or both for the same bot`)
  }
  const botIdText = idText ?? tokenBotId
  const botId = botIdText === undefined ? undefined : Number(botIdText)
  if (botId !== undefined && !Number.isSafeInteger(botId)) throw new WC_ERR_CONFIG('TELEGRAM_BOT_ID is too large to be a Telegram id')

  const usernameMatch = username === undefined ? undefined : BOT_USERNAME.exec(username)
  if (usernameMatch === null) throw new WC_ERR_CONFIG('TELEGRAM_BOT_USERNAME must be the bot\'s username (5 to 32 letters, digits or _, starting with a letter; "@" optional)')

  if (botId === undefined && (webappUrl !== undefined || usernameMatch !== undefined)) {
    // Both only tell plugins how to sign in, which needs the bot itself.
    throw new WC_ERR_CONFIG(`${webappUrl !== undefined ? 'WEBAPP_URL' : 'TELEGRAM_BOT_USERNAME'} is for sign-in, which needs TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_ID) too`)
  }
  if (webappUrl !== undefined && !isHttpsUrl(webappUrl)) {
    throw new WC_ERR_CONFIG('WEBAPP_URL must be an absolute https:// URL without credentials (Telegram opens Mini Apps over HTTPS only), for example https://whatclient.example.org/v2/webapp')
  }

  return {
    telegramBotToken: token,
    telegramBotId: botId,
    telegramBotUsername: usernameMatch?.[1],
    telegramTestEnv: parsed.TELEGRAM_TEST_ENV,
    webappUrl,
    initDataMaxAgeSeconds: parsed.INIT_DATA_MAX_AGE_SECONDS,
    sessionTtlSeconds: parsed.SESSION_TTL_SECONDS,
    askLimitPerHour: parsed.ASK_LIMIT_PER_HOUR,
    v1Enabled: parsed.V1_ENABLED,
    maxUnverifiedPerTarget: parsed.MAX_UNVERIFIED_PER_TARGET,
    maxRememberedSignIns: parsed.MAX_REMEMBERED_SIGN_INS,
    maxSignedInUsers: parsed.MAX_SIGNED_IN_USERS
  }
}

function isHttpsUrl (text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.hostname !== ''
  } catch {
    return false
  }
}
