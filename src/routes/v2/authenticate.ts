/**
 * `Authorization: Bearer <token>` for the v2 calls that act as a user: the
 * caller is the token's user, always (no v2 body or path names the caller).
 * Missing, malformed, forged, altered or expired tokens answer 401
 * `{"detail"}` with `WWW-Authenticate: Bearer`. A callback hook at onRequest:
 * it runs on every poll, before the body is even parsed. A task poll the fast
 * path checked and handed on is not checked again (src/fast-path/handed-on.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { WC_ERR_TOKEN_INVALID, WC_ERR_TOKEN_MISSING } from '../../errors.js'
import { handedOnSession } from '../../fast-path/handed-on.js'
import type { Session, SessionTokens } from '../../identity/tokens.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The token's session, on routes behind requireSession; null elsewhere. */
    caller: Session | null
  }
}

const SCHEME = 'bearer'
const SPACE = 0x20

/**
 * The token of `Bearer <token>` (scheme in any case, one or more spaces), or
 * undefined. What follows the spaces is the token as sent: one with spaces or
 * anything else outside base64url is refused by its format check.
 */
export function bearerToken (header: string): string | undefined {
  if (header.length <= SCHEME.length + 1) return undefined
  for (let i = 0; i < SCHEME.length; i++) {
    // ASCII letters only: setting 0x20 lowercases them, and makes nothing else a letter of "bearer".
    if ((header.charCodeAt(i) | 0x20) !== SCHEME.charCodeAt(i)) return undefined
  }
  let i = SCHEME.length
  if (header.charCodeAt(i) !== SPACE) return undefined
  while (header.charCodeAt(i) === SPACE) i++
  return i === header.length ? undefined : header.slice(i)
}

/** Every route registered in `scope` (and its children) after this call needs a valid token. */
export function requireSession (scope: FastifyInstance, tokens: SessionTokens): void {
  if (!scope.hasRequestDecorator('caller')) scope.decorateRequest('caller', null)
  scope.addHook('onRequest', (request: FastifyRequest, reply, done) => {
    // A poll the fast path checked and then handed on (its token may have expired since, during its hold).
    const checked = handedOnSession(request.raw)
    if (checked !== undefined) {
      request.caller = checked
      return done()
    }
    const header = request.headers.authorization
    let failure: Error
    if (header === undefined || header === '') {
      failure = new WC_ERR_TOKEN_MISSING()
    } else {
      const token = bearerToken(header)
      try {
        if (token === undefined) throw new WC_ERR_TOKEN_INVALID()
        request.caller = tokens.verify(token)
        return done()
      } catch (err) {
        failure = err as Error
      }
    }
    void reply.header('www-authenticate', 'Bearer')
    done(failure)
  })
}

/** The caller of a route behind requireSession. */
export function callerOf (request: FastifyRequest): Session {
  if (request.caller === null) throw new WC_ERR_TOKEN_MISSING()
  return request.caller
}
