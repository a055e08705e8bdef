/**
 * How request parts are validated. Bodies are JSON and validated as sent (no
 * "1" for 1, no true for 1). Path and query values can only be strings, so
 * they are converted, but only from plain decimals: Ajv's own coercion takes
 * anything `+value` accepts ("0x10", "2e0", " 2", "Infinity"), so that
 * `/getTasks/0x2` was user 2, and, once a value has become Infinity, skips its
 * minimum and maximum, which let `?wait=Infinity` hold a poll for ever.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'
import { PLAIN_DECIMAL, PLAIN_WHOLE } from '../plain-numbers.js'

const strictAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })
const coercingAjv = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false })

const GRAMMAR = { number: { pattern: PLAIN_DECIMAL, message: 'must be a plain decimal number' }, integer: { pattern: PLAIN_WHOLE, message: 'must be a plain decimal integer' } }

type Check = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null }

/** The top-level properties that a string must turn into a number for, with the grammar it must follow. */
function numericProperties (schema: unknown): Array<[string, typeof GRAMMAR.number]> {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}
  return Object.entries(properties)
    .filter(([, property]) => property.type === 'number' || property.type === 'integer')
    .map(([name, property]) => [name, GRAMMAR[property.type as 'number' | 'integer']])
}

function issue (name: string, keyword: string, message: string): ErrorObject {
  return { keyword, instancePath: `/${name}`, schemaPath: `#/properties/${name}`, params: {}, message }
}

/** A path or query validator that reads numbers only from plain decimal strings, and only finite ones. */
function decimalStrings (schema: unknown, validate: ValidateFunction): Check {
  const numeric = numericProperties(schema)
  if (numeric.length === 0) return validate
  const check: Check = (data) => {
    const values = data as Record<string, unknown> | null
    for (const [name, grammar] of numeric) {
      const value = values?.[name]
      if (typeof value === 'string' && !grammar.pattern.test(value)) {
        check.errors = [issue(name, 'type', grammar.message)]
        return false
      }
    }
    if (!validate(data)) {
      check.errors = validate.errors
      return false
    }
    for (const [name] of numeric) {
      const value = values?.[name]
      // A decimal of a few hundred digits is Infinity, and Ajv checks no bound on Infinity.
      if (typeof value === 'number' && !Number.isFinite(value)) {
        check.errors = [issue(name, 'maximum', 'must be a finite number')]
        return false
      }
    }
    check.errors = null
    return true
  }
  return check
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (httpPart === 'body') return strictAjv.compile(schema as object)
  return decimalStrings(schema, coercingAjv.compile(schema as object))
}
