/**
 * `GET /v2/catalogue`: package name -> display name, the catalogue the server
 * names answers with, so that a client can name an app itself (sealed
 * answers). Serialised once, with a strong ETag: a client that has it asks
 * with If-None-Match and gets 304 and no body.
 */
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { displayNames, UNKNOWN_CLIENT } from '../../catalogue/catalogue.js'

const CatalogueReply = Type.Object({
  clients: Type.Record(Type.String(), Type.String(), { description: 'Android package name -> display name' }),
  unknown: Type.String({ description: 'The display name of any package not listed' })
})

const CACHE_CONTROL = 'public, max-age=3600'

/** If-None-Match matches by weak comparison (RFC 9110, 13.1.2): W/"x" matches "x". */
export function matchesIfNoneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || (tag.startsWith('W/') ? tag.slice(2) : tag) === etag
  })
}

const catalogue: FastifyPluginAsyncTypebox = async (app) => {
  const clients = Object.fromEntries([...displayNames()].sort(([a], [b]) => a < b ? -1 : 1))
  const body = JSON.stringify({ clients, unknown: UNKNOWN_CLIENT })
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`

  app.get('/v2/catalogue', {
    schema: {
      summary: 'The package -> display name catalogue',
      description: 'Cacheable: answers 304 to a matching If-None-Match.',
      tags: ['v2'],
      response: { 200: CatalogueReply, 304: Type.Null({ description: 'Not modified' }) }
    }
  }, async (request, reply) => {
    void reply.header('etag', etag).header('cache-control', CACHE_CONTROL)
    // send() without a payload: a serialised null would go out as Content-Length: 4 on a 304.
    if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) return (reply as FastifyReply).code(304).send()
    // Sent as serialised once (a JSON string goes out as it is); the response schema documents it.
    return (reply as FastifyReply).type('application/json; charset=utf-8').send(body)
  })
}

export default catalogue
