/**
 * The API description: /openapi.json (machine-readable) and /docs (browsable,
 * with "Try it out" for the signed calls), both built from the route schemas.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { DOCS_SIGNING_SCRIPT, requestInterceptor } from './docs-signing.js'

const SIGNATURE_HELP = [
  'Lowercase hex HMAC-SHA256, keyed with the shared API_SECRET_KEY (UTF-8), of:',
  'for POST, the raw request body bytes exactly as sent;',
  'for GET, the URL path, percent-decoded, without the query string (e.g. `/getTasks/456`).',
  'On this page, enter the key itself: the page signs each request before sending it.'
].join(' ')

const BEARER_HELP = 'The session token POST /v2/session gave for Telegram Mini App init data (v2). Opaque; it lives SESSION_TTL_SECONDS. On this page, enter the token itself.'

const DESCRIPTION = `Relay between a requester and a target plugin: which Telegram app does the target run? The server keeps nothing after a request ends or expires.

**Every v1 call is signed.** It carries \`X-Signature\`: the lowercase hex HMAC-SHA256, keyed with the server's \`API_SECRET_KEY\`, of the raw request body for POST, or of the percent-decoded path without the query for GET (\`/getTasks/456\`).

**To try them here,** click **Authorize** and enter the server's key as the value of \`signature\`. This page then signs each request itself before sending it (in the browser); the key is not sent, only the signature. The \`wait\` query is not signed.

**The v2 calls** (tag \`v2\`) act as a Telegram user: sign in with \`POST /v2/session\` (Mini App init data of the server's bot) and send the token it gives as \`Authorization: Bearer <token>\`. To try them here, enter that token as the value of \`bearer\`.`

async function openapi (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'WhatClient',
        version: '1',
        description: DESCRIPTION
      },
      components: {
        securitySchemes: {
          signature: { type: 'apiKey', in: 'header', name: 'X-Signature', description: SIGNATURE_HELP },
          bearer: { type: 'http', scheme: 'bearer', description: BEARER_HELP }
        }
      }
    }
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The page loads this script after Swagger UI's own, and the interceptor (sent as its
    // source) hands every "Try it out" request to it.
    theme: { js: [{ filename: 'sign.js', content: DOCS_SIGNING_SCRIPT }] },
    // The curl line the page shows is then the signed request, not the key.
    uiConfig: { requestInterceptor, showMutatedRequest: true }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openapi, { name: 'openapi' })
