/**
 * `GET /v2/info`: what a plugin needs to sign in, given only the server's URL.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../../config.js'
import type { Identity } from '../../identity/identity.js'

const InfoReply = Type.Object({
  version: Type.Literal(2),
  sign_in: Type.Boolean({ description: 'Whether POST /v2/session can sign anyone in here' }),
  bot_username: Type.Union([Type.String(), Type.Null()], { description: "The operator's bot, whose Mini App init data signs a user in" }),
  webapp_url: Type.Union([Type.String(), Type.Null()], { description: "The bot's Mini App URL, for messages.requestWebView" }),
  v1_enabled: Type.Boolean(),
  max_wait_seconds: Type.Integer({ description: 'Longest ?wait= a long-poll may ask for' })
})

const info: FastifyPluginAsyncTypebox<{ config: Config, identity: Identity }> = async (app, { config, identity }) => {
  app.get('/v2/info', {
    schema: { summary: 'What this server offers (v2)', tags: ['v2'], response: { 200: InfoReply } }
  }, async () => ({
    version: 2 as const,
    sign_in: identity.verifier !== undefined,
    bot_username: config.telegramBotUsername ?? null,
    webapp_url: config.webappUrl ?? null,
    v1_enabled: config.v1Enabled,
    max_wait_seconds: Math.floor(config.maxWaitSeconds)
  }))
}

export default info
