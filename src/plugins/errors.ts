/**
 * Every error answers in the v1 field shape `{"detail": ...}`: a message for
 * 4xx (422 carries a FastAPI-like list of what failed), a fixed text for
 * unexpected 5xx. Unknown paths answer 404 and known paths asked with another
 * method 405 (with `Allow`), without logging their URL, which would carry user
 * and request ids.
 */
import { METHODS } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { EXPOSED_SERVER_ERRORS, WC_ERR_METHOD_NOT_ALLOWED, WC_ERR_NOT_FOUND, WC_ERR_UNSUPPORTED_MEDIA_TYPE } from '../errors.js'
import { originForm } from './request-target.js'

interface ValidationIssue {
  type: string
  loc: Array<string | number>
  msg: string
}

const LOCATION: Record<string, string> = { body: 'body', params: 'path', querystring: 'query', headers: 'header' }

function validationDetail (error: FastifyError): ValidationIssue[] {
  const where = LOCATION[error.validationContext ?? 'body'] ?? 'body'
  return (error.validation ?? []).map((issue) => {
    const path = issue.instancePath.split('/').filter((p) => p !== '')
    const missing = (issue.params as { missingProperty?: string }).missingProperty
    if (missing !== undefined) path.push(missing)
    return { type: issue.keyword, loc: [where, ...path], msg: issue.message ?? 'is invalid' }
  })
}

async function errors (app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // Fastify's own, for a Content-Type it cannot read (empty, or not type/subtype): ours says what to send.
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') error = new WC_ERR_UNSUPPORTED_MEDIA_TYPE()
    if (error.validation !== undefined) {
      return reply.code(422).send({ detail: validationDetail(error) })
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    // A cap that knows when it frees (a quota, a full queue) says so; a 503 says "in a second".
    const wait = (error as { retryAfterMs?: unknown }).retryAfterMs
    if (typeof wait === 'number' && Number.isFinite(wait)) void reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))))
    if (status < 500) return reply.code(status).send({ detail: error.message })
    if (EXPOSED_SERVER_ERRORS.has(error.code)) {
      if (!reply.hasHeader('retry-after')) void reply.header('retry-after', '1')
      return reply.code(status).send({ detail: error.message })
    }
    request.log.error({ err: { type: error.name, code: error.code, stack: error.stack } }, 'unexpected error')
    return reply.code(500).send({ detail: 'Internal Server Error' })
  })

  const allowed = allowedMethods(app)
  // Thrown, so that the error handler above answers them as it answers every other error.
  app.setNotFoundHandler(async (request, reply) => {
    const methods = allowed(request.raw.url ?? '/')
    // None, or the request's own: its route found nothing (a file missing under /docs/static/).
    if (methods.length === 0 || methods.includes(request.method)) throw new WC_ERR_NOT_FOUND()
    void reply.header('allow', methods.join(', '))
    throw new WC_ERR_METHOD_NOT_ALLOWED(methods.join(', '))
  })
}

/**
 * The methods the routes matching a request's path answer (none for an unknown
 * path). Fastify's router has no such lookup, so route patterns are collected
 * as they are added and matched here; this runs only for requests no route took.
 */
function allowedMethods (app: FastifyInstance): (url: string) => string[] {
  const patterns = new Map<string, RegExp>()
  app.addHook('onRoute', (route) => {
    if (patterns.has(route.url)) return
    const source = route.url.split('/').map((segment) => {
      if (segment.startsWith(':')) return '[^/]+'
      return segment.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
    }).join('/')
    patterns.set(route.url, new RegExp(`^${source}$`))
  })
  return (url) => {
    const path = originForm(url).split('?', 1)[0] as string
    const methods = new Set<string>()
    for (const [pattern, regex] of patterns) {
      if (!regex.test(path)) continue
      for (const method of METHODS) if (app.hasRoute({ method: method as 'GET', url: pattern })) methods.add(method)
    }
    return [...methods]
  }
}

export default fp(errors, { name: 'errors' })
