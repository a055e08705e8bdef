/**
 * Words of the v1 wire protocol that the server and its clients both use, so
 * that each is written once.
 */

/** The display name a v1 server answers for a package name it does not know. */
export const UNKNOWN_CLIENT = 'Unknown Client'
