/**
 * The API description: /openapi.json (machine-readable) and /docs (browsable),
 * both built from the route schemas.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

const SIGNATURE_HELP = [
  'Lowercase hex HMAC-SHA256, keyed with the shared API_SECRET_KEY (UTF-8), of:',
  'for POST, the raw request body bytes exactly as sent;',
  'for GET, the URL path, percent-decoded, without the query string (e.g. `/getTasks/456`).'
].join(' ')

async function openapi (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'WhatClient',
        version: '1',
        description: 'Relay between a requester and a target plugin: which Telegram app does the target run? The server keeps nothing after a request ends or expires.'
      },
      components: {
        securitySchemes: { signature: { type: 'apiKey', in: 'header', name: 'X-Signature', description: SIGNATURE_HELP } }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openapi, { name: 'openapi' })
