/**
 * Words of the wire protocol that the server and its clients both use, so
 * that each is written once.
 */

/** The display name a v1 server answers for a package name it does not know. */
export const UNKNOWN_CLIENT = 'Unknown Client'

/**
 * Android's rule for a package name, as the server enforces it on answers:
 * two or more dot-separated segments of ASCII letters, digits and `_`, each
 * starting with a letter; at most 255 characters. A sealed answer passes no
 * server check, so a target's client checks its own name against this before
 * sealing it.
 */
const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/
const MAX_PACKAGE_NAME_LENGTH = 255

export function isPackageName (name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_PACKAGE_NAME_LENGTH && PACKAGE_NAME.test(name)
}
