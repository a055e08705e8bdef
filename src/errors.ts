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
export const WC_ERR_POISONED_JSON = createError('WC_ERR_POISONED_JSON', 'The body has a __proto__ or constructor.prototype key, which is refused.', 400)
export const WC_ERR_MISSING_HOST = createError('WC_ERR_MISSING_HOST', 'An HTTP/1.1 request needs a Host header.', 400)
export const WC_ERR_UNSUPPORTED_MEDIA_TYPE = createError('WC_ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type: send Content-Type: application/json.', 415)
export const WC_ERR_TARGET_BUSY = createError('WC_ERR_TARGET_BUSY', 'Too many pending requests for this user; try again later.', 429)
export const WC_ERR_STORE_FULL = createError('WC_ERR_STORE_FULL', 'The server holds too many pending requests; try again later.', 503)
export const WC_ERR_TOO_MANY_POLLS = createError('WC_ERR_TOO_MANY_POLLS', 'Too many waiting polls for this id; close one before opening another.', 429)
export const WC_ERR_POLLS_FULL = createError('WC_ERR_POLLS_FULL', 'The server holds too many waiting polls; try again later.', 503)
export const WC_ERR_STORE_UNAVAILABLE = createError('WC_ERR_STORE_UNAVAILABLE', 'The task store is unavailable; try again later.', 503)
export const WC_ERR_SHUTTING_DOWN = createError('WC_ERR_SHUTTING_DOWN', 'The server is shutting down; try again later.', 503)
export const WC_ERR_CONFIG = createError<[string]>('WC_ERR_CONFIG', 'Invalid configuration: %s')

/** Codes whose 5xx message is safe and useful to show to clients. */
export const EXPOSED_SERVER_ERRORS: ReadonlySet<string> = new Set([
  'WC_ERR_STORE_FULL', 'WC_ERR_POLLS_FULL', 'WC_ERR_STORE_UNAVAILABLE', 'WC_ERR_SHUTTING_DOWN'
])
