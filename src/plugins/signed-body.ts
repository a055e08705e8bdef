/**
 * JSON bodies kept as the exact bytes received, because v1 signs the raw body:
 * a re-serialisation would not match what the client signed. Parsing is
 * deferred-failing: a malformed body is reported only after the signature has
 * been checked, so an unsigned caller learns nothing and costs little.
 * A body without Content-Type is read as JSON (as the field server did); any
 * other content type is refused with 415.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { WC_ERR_BAD_JSON, WC_ERR_EMPTY_JSON, WC_ERR_POISONED_JSON, WC_ERR_UNSUPPORTED_MEDIA_TYPE } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    rawBody: Buffer | undefined
    bodyError: Error | undefined
  }
}

async function signedBody (app: FastifyInstance): Promise<void> {
  app.decorateRequest('rawBody', undefined)
  app.decorateRequest('bodyError', undefined)
  const parseJson = app.getDefaultJsonParser('error', 'ignore')

  const keepRawAndParse = (request: FastifyRequest, body: Buffer, done: (err: Error | null, value?: unknown) => void): void => {
    request.rawBody = body
    // The default parser accepts Buffers too (secure-json-parse); its type says string.
    parseJson(request, body as unknown as string, (err, value) => {
      if (err) request.bodyError = bodyError(err, body)
      done(null, err ? undefined : value)
    })
  }

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    keepRawAndParse(request, body as Buffer, done)
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.headers['content-type'] === undefined) keepRawAndParse(request, body as Buffer, done)
    else done(new WC_ERR_UNSUPPORTED_MEDIA_TYPE())
  })
}

/**
 * What was wrong with a body, in words that hold with or without a Content-Type
 * (Fastify's own say "content-type is set to 'application/json'" even when it is not).
 */
function bodyError (err: Error & { code?: string }, body: Buffer): Error {
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new WC_ERR_EMPTY_JSON()
  // The secure parser refuses prototype keys with the same error as bad syntax; only this
  // path, already refused, pays for telling the two apart.
  try {
    JSON.parse(String(body))
    return new WC_ERR_POISONED_JSON()
  } catch {
    return new WC_ERR_BAD_JSON()
  }
}

export default fp(signedBody, { name: 'signed-body' })
