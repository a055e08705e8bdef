import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'

const SECRET = 'AAHdF6IQxyzSecretPartOfTheToken_123'
const TOKEN = `7000000001:${SECRET}`

function configError (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    expect((err as { code?: string }).code).toBe('WC_ERR_CONFIG')
    return (err as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('v2 settings', () => {
  it('have defaults: sign-in off, v1 on', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      telegramBotToken: undefined,
      telegramBotId: undefined,
      telegramBotUsername: undefined,
      telegramTestEnv: false,
      webappUrl: undefined,
      initDataMaxAgeSeconds: 300,
      sessionTtlSeconds: 86_400,
      askLimitPerHour: 60,
      v1Enabled: true,
      maxUnverifiedPerTarget: 4,
      maxRememberedSignIns: 100_000,
      maxSignedInUsers: 1_000_000
    })
  })

  it('take the bot id from the token, or from TELEGRAM_BOT_ID when it matches', () => {
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN })).toMatchObject({ telegramBotToken: TOKEN, telegramBotId: 7000000001 })
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_BOT_ID: '7000000001' }).telegramBotId).toBe(7000000001)
    expect(loadConfig({ TELEGRAM_BOT_ID: '7342037359' })).toMatchObject({ telegramBotToken: undefined, telegramBotId: 7342037359 })
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: '', TELEGRAM_BOT_ID: '' })).toMatchObject({ telegramBotToken: undefined, telegramBotId: undefined })
  })

  it('refuse a bot id that is not the token\'s, naming both ids and not the secret', () => {
    const message = configError({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_BOT_ID: '7000000002' })
    expect(message).toContain('TELEGRAM_BOT_ID (7000000002) does not match the bot id in TELEGRAM_BOT_TOKEN (7000000001)')
    expect(message).not.toContain(SECRET)
  })

  it('refuse malformed values with a message that names the variable and never echoes the token', () => {
    for (const token of ['nocolon', `abc:${SECRET}`, '7000000001:short', `7000000001:${SECRET} `, `0:${SECRET}`]) {
      const message = configError({ TELEGRAM_BOT_TOKEN: token })
      expect(message).toContain('TELEGRAM_BOT_TOKEN')
      expect(message).not.toContain(SECRET)
    }
    for (const id of ['abc', '-5', '0', '12.5', '99999999999999999']) expect(configError({ TELEGRAM_BOT_ID: id })).toContain('TELEGRAM_BOT_ID')
    for (const name of ['ab', 'has space', '1startsdigit', 'x'.repeat(40)]) expect(configError({ TELEGRAM_BOT_USERNAME: name })).toContain('TELEGRAM_BOT_USERNAME')
    expect(configError({ TELEGRAM_TEST_ENV: 'yes' })).toContain('TELEGRAM_TEST_ENV')
    expect(configError({ V1_ENABLED: 'off' })).toContain('V1_ENABLED')
  })

  it('take a username with or without "@"', () => {
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_BOT_USERNAME: '@WhatClientBot' }).telegramBotUsername).toBe('WhatClientBot')
    expect(loadConfig({ TELEGRAM_BOT_ID: '7000000001', TELEGRAM_BOT_USERNAME: 'what_client_bot' }).telegramBotUsername).toBe('what_client_bot')
  })

  it('refuse what tells plugins how to sign in, or switches v1 off, when there is no bot to sign in with', () => {
    expect(configError({ TELEGRAM_BOT_USERNAME: 'what_client_bot' })).toBe('Invalid configuration: TELEGRAM_BOT_USERNAME is for sign-in, which needs TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_ID) too')
    expect(configError({ WEBAPP_URL: 'https://wc.example.org/v2/webapp' })).toContain('WEBAPP_URL is for sign-in')
    expect(configError({ V1_ENABLED: 'false' })).toBe('Invalid configuration: V1_ENABLED=false leaves nothing to serve without sign-in: set TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_ID), or leave v1 on')
    expect(configError({ V1_ENABLED: 'false', TELEGRAM_BOT_TOKEN: '' })).toContain('V1_ENABLED=false leaves nothing to serve')
  })

  it('want WEBAPP_URL as an https URL', () => {
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, WEBAPP_URL: 'https://wc.example.org/v2/webapp' }).webappUrl).toBe('https://wc.example.org/v2/webapp')
    for (const url of ['http://wc.example.org/v2/webapp', 'wc.example.org', 'https://user:pw@wc.example.org/', 'javascript:alert(1)']) {
      expect(configError({ TELEGRAM_BOT_TOKEN: TOKEN, WEBAPP_URL: url })).toContain('WEBAPP_URL must be an absolute https:// URL')
    }
  })

  it('want positive integers for the limits', () => {
    expect(loadConfig({ INIT_DATA_MAX_AGE_SECONDS: '1' }).initDataMaxAgeSeconds).toBe(1)
    expect(loadConfig({ INIT_DATA_MAX_AGE_SECONDS: '86400' }).initDataMaxAgeSeconds).toBe(86_400)
    for (const [name, value] of [
      ['INIT_DATA_MAX_AGE_SECONDS', '0'], ['INIT_DATA_MAX_AGE_SECONDS', '-1'], ['INIT_DATA_MAX_AGE_SECONDS', '1.5'], ['INIT_DATA_MAX_AGE_SECONDS', 'soon'],
      ['SESSION_TTL_SECONDS', '0'], ['ASK_LIMIT_PER_HOUR', '0'], ['MAX_UNVERIFIED_PER_TARGET', '0'], ['MAX_REMEMBERED_SIGN_INS', '0']
    ] as const) {
      expect(configError({ [name]: value }), `${name}=${value}`).toContain(name)
    }
  })

  it('switch v1 off and the test environment on', () => {
    expect(loadConfig({ V1_ENABLED: 'false', TELEGRAM_BOT_ID: '7000000001', TELEGRAM_TEST_ENV: 'true' })).toMatchObject({ v1Enabled: false, telegramTestEnv: true })
  })
})
