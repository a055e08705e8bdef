/**
 * Every error answers in the v1 field shape `{"detail": ...}`: a message for
 * 4xx (422 carries a FastAPI-like list of what failed), a fixed text for
 * unexpected 5xx. Unknown routes answer 404 without logging their URL, which
 * would carry user and request ids.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { EXPOSED_SERVER_ERRORS, WC_ERR_NOT_FOUND } from '../errors.js'

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
    if (error.validation !== undefined) {
      return reply.code(422).send({ detail: validationDetail(error) })
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (status < 500) return reply.code(status).send({ detail: error.message })
    if (EXPOSED_SERVER_ERRORS.has(error.code)) {
      return reply.code(status).header('retry-after', '1').send({ detail: error.message })
    }
    request.log.error({ err: { type: error.name, code: error.code, stack: error.stack } }, 'unexpected error')
    return reply.code(500).send({ detail: 'Internal Server Error' })
  })

  app.setNotFoundHandler((_request, reply) => {
    const error = new WC_ERR_NOT_FOUND()
    return reply.code(404).send({ detail: error.message })
  })
}

export default fp(errors, { name: 'errors' })
