/**
 * What a refused call threw: its error code (sync) or the whole error
 * (async, for `retryAfterMs` and the status code).
 */

/** The `code` of what `fn` throws, or undefined when it does not throw. */
export function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

/** The error `call` rejects with; fails the test when it resolves. */
export async function refusal (call: Promise<unknown>): Promise<{ code?: string, statusCode?: number, retryAfterMs?: number }> {
  try {
    await call
  } catch (err) {
    return err as { code?: string, statusCode?: number, retryAfterMs?: number }
  }
  throw new Error('expected the call to be refused')
}
