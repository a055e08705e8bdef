/**
 * Fresh Telegram user ids for tests. Each test file starts at a random point
 * of a wide range, so files that share a server or a Redis never meet each
 * other's users, and a test that asks for an id never gets one seen before.
 */
let last = 1_000_000_000 + Math.floor(Math.random() * 2 ** 40)

/** A source of ids never given out before in this file (positive, well below 2^53). */
export function userIds (): () => number {
  return () => ++last
}

/** The same, as the decimal text a command line takes. */
export function userIdArgs (): () => string {
  const next = userIds()
  return () => String(next())
}
