/**
 * Every error the service answers on purpose, as a coded constructor: tests
 * assert on `code`, clients read `detail` (the message). Messages name no user,
 * request or package: they end up in responses and possibly in logs.
 */
import createError from '@fastify/error'

export const WC_ERR_SIGNATURE_MISSING = createError('WC_ERR_SIGNATURE_MISSING', 'X-Signature header is missing.', 403)
export const WC_ERR_SIGNATURE_INVALID = createError('WC_ERR_SIGNATURE_INVALID', 'Invalid signature.', 403)
export const WC_ERR_REQUEST_NOT_FOUND = createError('WC_ERR_REQUEST_NOT_FOUND', 'Request not found or already processed.', 404)
export const WC_ERR_NOT_FOUND = createError('WC_ERR_NOT_FOUND', 'Not Found', 404)
export const WC_ERR_METHOD_NOT_ALLOWED = createError<[string]>('WC_ERR_METHOD_NOT_ALLOWED', 'Method not allowed: this path answers %s.', 405)
export const WC_ERR_BAD_JSON = createError('WC_ERR_BAD_JSON', 'The body is not valid JSON.', 400)
export const WC_ERR_EMPTY_JSON = createError('WC_ERR_EMPTY_JSON', 'The body is empty: send a JSON object.', 400)
export const WC_ERR_POISONED_JSON = createError('WC_ERR_POISONED_JSON', 'The body has a __proto__ key, which is refused.', 400)
export const WC_ERR_MISSING_HOST = createError('WC_ERR_MISSING_HOST', 'An HTTP/1.1 request needs a Host header.', 400)
export const WC_ERR_UNSUPPORTED_MEDIA_TYPE = createError('WC_ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type: send Content-Type: application/json.', 415)
export const WC_ERR_TARGET_BUSY = createError('WC_ERR_TARGET_BUSY', 'Too many pending requests for this user; try again later.', 429)
export const WC_ERR_STORE_FULL = createError('WC_ERR_STORE_FULL', 'The server holds too many pending requests; try again later.', 503)
export const WC_ERR_TOO_MANY_POLLS = createError('WC_ERR_TOO_MANY_POLLS', 'Too many waiting polls for this id; close one before opening another.', 429)
export const WC_ERR_POLLS_FULL = createError('WC_ERR_POLLS_FULL', 'The server holds too many waiting polls; try again later.', 503)
export const WC_ERR_STORE_UNAVAILABLE = createError('WC_ERR_STORE_UNAVAILABLE', 'The task store is unavailable; try again later.', 503)
export const WC_ERR_SHUTTING_DOWN = createError('WC_ERR_SHUTTING_DOWN', 'The server is shutting down; try again later.', 503)
export const WC_ERR_CONFIG = createError<[string]>('WC_ERR_CONFIG', 'Invalid configuration: %s')

// --- start-up: the process cannot serve, says why on stderr and exits 1 (never an HTTP answer) ---
/** A listen that failed; the text names the settings to change and Node's words. */
export const WC_ERR_CANNOT_LISTEN = createError<[string, { cause: unknown }]>('WC_ERR_CANNOT_LISTEN', 'cannot listen at %s')
/** Redis did not answer within 5 s; the text names where, and what it said last (never a password). */
export const WC_ERR_REDIS_UNREACHABLE = createError<[string]>('WC_ERR_REDIS_UNREACHABLE', 'cannot reach Redis at %s')
/** Redis answered, but the store cannot run on it (too old, or it evicts keys). */
export const WC_ERR_REDIS_UNSUITABLE = createError<[string]>('WC_ERR_REDIS_UNSUITABLE', '%s')

/**
 * Marks an error so that its answer carries Retry-After: `ms` in whole
 * seconds, rounded up, at least 1 (the error handler sets the header).
 */
export function retryAfter<E extends Error> (error: E, ms: number): E & { retryAfterMs: number } {
  return Object.assign(error, { retryAfterMs: ms })
}

/** Codes whose 5xx message is safe and useful to show to clients. */
export const EXPOSED_SERVER_ERRORS: ReadonlySet<string> = new Set([
  'WC_ERR_STORE_FULL', 'WC_ERR_POLLS_FULL', 'WC_ERR_STORE_UNAVAILABLE', 'WC_ERR_SHUTTING_DOWN',
  'WC_ERR_SIGN_INS_FULL', 'WC_ERR_QUOTA_FULL'
])

// --- v2: verified identity (init data, sign-in, session tokens) ---
// 401s say what failed, never what was expected (no hash, key, user or time in them).
export const WC_ERR_INIT_DATA_TOO_LONG = createError('WC_ERR_INIT_DATA_TOO_LONG', 'Init data is longer than 4,096 characters.', 401)
export const WC_ERR_INIT_DATA_MALFORMED = createError('WC_ERR_INIT_DATA_MALFORMED', 'Init data is malformed: send the query string Telegram gave (tgWebAppData, URL-decoded once).', 401)
export const WC_ERR_INIT_DATA_INVALID = createError('WC_ERR_INIT_DATA_INVALID', "Init data is not signed by Telegram for this server's bot.", 401)
export const WC_ERR_INIT_DATA_NO_USER = createError('WC_ERR_INIT_DATA_NO_USER', 'Init data names no valid user.', 401)
export const WC_ERR_INIT_DATA_STALE = createError('WC_ERR_INIT_DATA_STALE', 'Init data is too old; get fresh init data from Telegram.', 401)
export const WC_ERR_INIT_DATA_FUTURE = createError('WC_ERR_INIT_DATA_FUTURE', "Init data is dated in the future; check the device's clock.", 401)
export const WC_ERR_INIT_DATA_REPLAYED = createError('WC_ERR_INIT_DATA_REPLAYED', 'Init data was already used; get fresh init data from Telegram.', 401)
export const WC_ERR_SIGN_IN_UNCONFIGURED = createError('WC_ERR_SIGN_IN_UNCONFIGURED', 'Sign-in is not configured on this server.', 503)
export const WC_ERR_SIGN_INS_FULL = createError('WC_ERR_SIGN_INS_FULL', 'The server remembers too many recent sign-ins to accept another; try again later.', 503)
export const WC_ERR_TOKEN_MISSING = createError('WC_ERR_TOKEN_MISSING', 'Authorization: Bearer <token> is missing; sign in with POST /v2/session.', 401)
export const WC_ERR_TOKEN_INVALID = createError('WC_ERR_TOKEN_INVALID', 'Invalid token; sign in again.', 401)
export const WC_ERR_TOKEN_EXPIRED = createError('WC_ERR_TOKEN_EXPIRED', 'Token expired; sign in again.', 401)
export const WC_ERR_QUOTA_EXCEEDED = createError('WC_ERR_QUOTA_EXCEEDED', 'You have asked too many questions this hour; try again after Retry-After seconds.', 429)
export const WC_ERR_QUOTA_FULL = createError('WC_ERR_QUOTA_FULL', 'The server tracks too many askers to accept a new one; try again later.', 503)
export const WC_ERR_UNVERIFIED_BUSY = createError('WC_ERR_UNVERIFIED_BUSY', 'Too many unverified (v1) questions pending for this user; try again after Retry-After seconds, or ask through v2.', 429)
export const WC_ERR_ANSWER_NOT_SEALED = createError('WC_ERR_ANSWER_NOT_SEALED', 'This request is sealed: answer with "sealed": {"enc", "ciphertext"} (or "declined": true), not a package name.', 422)
export const WC_ERR_ANSWER_NOT_PLAIN = createError('WC_ERR_ANSWER_NOT_PLAIN', 'This request is not sealed: answer with "package_name" (or "declined": true), not a sealed answer.', 422)
export const WC_ERR_ANSWER_SHAPE = createError('WC_ERR_ANSWER_SHAPE', 'Send request_id and exactly one of "package_name", "sealed" or "declined": true.', 422)
