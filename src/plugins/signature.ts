/**
 * The v1 signature check, as a preValidation hook for the routes it wraps: it
 * runs after the body bytes are read and before any validation work.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { signedPath, verify } from '../crypto/signature.js'
import { WC_ERR_SIGNATURE_INVALID, WC_ERR_SIGNATURE_MISSING } from '../errors.js'

export function requireSignature (app: FastifyInstance, key: string): void {
  const keyBytes = Buffer.from(key, 'utf8')
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const header = request.headers['x-signature']
    if (header === undefined || header === '') throw new WC_ERR_SIGNATURE_MISSING()
    const material = request.method === 'GET' ? signedPath(request.raw.url ?? '') : (request.rawBody ?? Buffer.alloc(0))
    if (typeof header !== 'string' || material === undefined || !verify(keyBytes, material, header)) {
      throw new WC_ERR_SIGNATURE_INVALID()
    }
    if (request.bodyError !== undefined) throw request.bodyError
  })
}
