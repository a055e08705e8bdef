import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'

const KEY_HEX = 'ab'.repeat(32)

describe('settings', () => {
  it('has a default for everything, and a random signing key said to be one', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      apiSecretKeyGenerated: true,
      host: '127.0.0.1',
      port: 8000,
      requestTtlMs: 120_000,
      retryGraceMs: 30_000,
      maxHeldPollsPerUser: 4,
      shutdownTimeoutMs: 10_000,
      store: { kind: 'memory' }
    })
    expect(config.apiSecretKey.length).toBeGreaterThanOrEqual(32)
    expect(loadConfig({}).apiSecretKey).not.toBe(config.apiSecretKey)
    expect(loadConfig({ API_SECRET_KEY: 'k' })).toMatchObject({ apiSecretKey: 'k', apiSecretKeyGenerated: false })
  })

  it('reads the Redis store as one setting, with its key in base64 or hex', () => {
    const key = randomBytes(32)
    const fromBase64 = loadConfig({ STORE: 'redis', STORE_KEY: key.toString('base64'), API_SECRET_KEY: 'k' })
    expect(fromBase64.store).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'wc:', key })
    const fromHex = loadConfig({ STORE: 'redis', STORE_KEY: key.toString('hex'), REDIS_URL: 'redis://10.0.0.5:6380', REDIS_KEY_PREFIX: 'a:', V1_ENABLED: 'false', TELEGRAM_BOT_ID: '7000000001' })
    expect(fromHex.store).toEqual({ kind: 'redis', url: 'redis://10.0.0.5:6380', prefix: 'a:', key })
    // Memory mode carries nothing of Redis.
    expect(loadConfig({ STORE_KEY: key.toString('base64'), REDIS_URL: 'redis://x' }).store).toEqual({ kind: 'memory' })
    // Unused in memory mode, so not read: a URL left over from elsewhere does not stop the start.
    expect(loadConfig({ REDIS_URL: '10.0.0.5:6379' }).store).toEqual({ kind: 'memory' })
  })

  it('turns seconds into milliseconds', () => {
    expect(loadConfig({ REQUEST_TTL_SECONDS: '0.5', RETRY_GRACE_SECONDS: '2.5', SHUTDOWN_TIMEOUT_SECONDS: '1' }))
      .toMatchObject({ requestTtlMs: 500, retryGraceMs: 2500, shutdownTimeoutMs: 1000 })
  })

  it.each([
    [{ PORT: 'abc' }, /PORT must be a whole number written plainly, such as 30 \(got "abc"\)/],
    [{ PORT: '2.5' }, /PORT must be a whole number/],
    // Read as numbers by JavaScript, but not plain decimals: Infinity held polls and requests for ever.
    [{ REQUEST_TTL_SECONDS: '1e400' }, /REQUEST_TTL_SECONDS must be a plain decimal number .*"1e400"/],
    [{ MAX_WAIT_SECONDS: 'Infinity' }, /MAX_WAIT_SECONDS must be a plain decimal number/],
    [{ MAX_PENDING_TOTAL: '0x10' }, /MAX_PENDING_TOTAL must be a whole number/],
    [{ SHUTDOWN_TIMEOUT_SECONDS: ' 5' }, /SHUTDOWN_TIMEOUT_SECONDS must be a plain decimal number/],
    [{ ASK_LIMIT_PER_HOUR: '6e1' }, /ASK_LIMIT_PER_HOUR must be a whole number/],
    [{ REQUEST_TTL_SECONDS: '0.0001' }, /REQUEST_TTL_SECONDS must be >= 0.001/],
    [{ PORT: '70000' }, /PORT must be <= 65535/],
    [{ REQUEST_TTL_SECONDS: '0' }, /REQUEST_TTL_SECONDS must be >= 0.001/],
    [{ RETRY_GRACE_SECONDS: '0' }, /RETRY_GRACE_SECONDS must be >= 1/],
    [{ RETRY_GRACE_SECONDS: '601' }, /RETRY_GRACE_SECONDS must be <= 600/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/],
    [{ STORE: 'disk' }, /STORE must be one of memory, redis \(got "disk"\)/],
    [{ V1_ENABLED: '0' }, /V1_ENABLED must be true or false \(got "0"\)/],
    [{ TELEGRAM_TEST_ENV: 'yes' }, /TELEGRAM_TEST_ENV must be true or false/],
    [{ STORE: 'redis', STORE_KEY: KEY_HEX, REDIS_URL: 'foo' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ STORE: 'redis', STORE_KEY: KEY_HEX, REDIS_URL: 'http://user:secret@host' }, /^(?!.*secret).*REDIS_URL must be a redis:\/\//],
    [{ STORE: 'redis' }, /STORE=redis needs STORE_KEY/],
    [{ STORE: 'redis', STORE_KEY: 'c2hvcnQ=' }, /STORE_KEY must be 32 bytes in base64 or hex \(got 5 bytes\)/],
    // Each instance would make its own: a v1 call signed for one is refused by the others.
    [{ STORE: 'redis', STORE_KEY: KEY_HEX }, /STORE=redis needs API_SECRET_KEY, the same on every instance \(the plugins' key\), or V1_ENABLED=false/],
    [{ STORE_KEY: 'c2hvcnQ=' }, /STORE_KEY must be 32 bytes/],
    // Left empty in an env file (the systemd example leaves the key so, for the operator to fill in).
    [{ API_SECRET_KEY: '' }, /^Invalid configuration: API_SECRET_KEY is empty: give it a value, or leave it unset for its default$/],
    [{ REDIS_KEY_PREFIX: '' }, /REDIS_KEY_PREFIX is empty/],
    // Empty is "is empty" for every kind of setting, not a complaint about its form.
    [{ METRICS_PORT: '' }, /^Invalid configuration: METRICS_PORT is empty: give it a value, or leave it unset for its default$/],
    [{ V1_ENABLED: '' }, /V1_ENABLED is empty/],
    [{ REQUEST_TTL_SECONDS: '' }, /REQUEST_TTL_SECONDS is empty/],
    // Counted inside the per-target cap: a larger one could never be reached.
    [{ MAX_PENDING_PER_TARGET: '10', MAX_UNVERIFIED_PER_TARGET: '11' }, /MAX_UNVERIFIED_PER_TARGET \(11\) is counted inside MAX_PENDING_PER_TARGET \(10\): it cannot be larger/],
    // The address alone, as a listen takes it (not as a URL writes it).
    [{ MAX_PIPELINED_CALLS: '0' }, /MAX_PIPELINED_CALLS must be >= 1/],
    [{ HOST: '[::1]' }, /HOST takes an IPv6 address without brackets, such as HOST=::1/],
    [{ METRICS_HOST: '[::]' }, /METRICS_HOST takes an IPv6 address without brackets/]
  ])('refuses %o, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'WC_ERR_CONFIG', message: expect.stringMatching(message) }))
  })

  it('takes a per-target cap below the default of unverified questions (that default is capped to it)', () => {
    expect(loadConfig({ MAX_PENDING_PER_TARGET: '2' })).toMatchObject({ maxPendingPerTarget: 2, maxUnverifiedPerTarget: 4 })
    expect(loadConfig({ MAX_PENDING_PER_TARGET: '2', MAX_UNVERIFIED_PER_TARGET: '2' })).toMatchObject({ maxUnverifiedPerTarget: 2 })
  })
})
