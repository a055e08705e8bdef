/**
 * The v1 signature check, as a preValidation hook for the routes it wraps: it
 * runs after the body bytes are read and before any validation work.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { HmacKey } from '../crypto/hmac.js'
import { signedPath, verify } from '../crypto/signature.js'
import { WC_ERR_SIGNATURE_INVALID, WC_ERR_SIGNATURE_MISSING } from '../errors.js'
import { handedOnSigned } from '../fast-path/handed-on.js'
import { originForm } from './request-target.js'

/** `secret`: API_SECRET_KEY (made once in app.ts, shared with the fast path). */
export function requireSignature (app: FastifyInstance, secret: HmacKey): void {
  // A callback hook, not an async one: this runs on every call, and a promise per call shows.
  app.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
    // A poll the fast path took was checked there, before it was held (one HMAC per question fewer).
    if (handedOnSigned(request.raw)) return done(request.bodyError)
    const header = request.headers['x-signature']
    if (header === undefined || header === '') return done(new WC_ERR_SIGNATURE_MISSING())
    // Calls without a body are signed over their path, never over an empty body: that
    // signature is one constant for every path.
    const material = request.method === 'GET' || request.method === 'HEAD' ? signedPath(originForm(request.raw.url ?? '/')) : (request.rawBody ?? Buffer.alloc(0))
    if (typeof header !== 'string' || material === undefined || !verify(secret, material, header)) {
      return done(new WC_ERR_SIGNATURE_INVALID())
    }
    done(request.bodyError)
  })
}
