/**
 * A request target as a path. Clients send the origin form
 * (`/getTasks/5?wait=1`), but HTTP/1.1 servers must also accept the absolute
 * form (`http://host/getTasks/5`), which Fastify's router reads by its path.
 * v1 signs the path, so the signature check must read the same path the
 * router did, or a request is routed by one path and signed over another.
 */

/** `target` in origin form, query kept; as the router reads it (find-my-way's getPathFromAbsoluteUrl). */
export function originForm (target: string): string {
  if (target.charCodeAt(0) === 47) return target // '/': the common case
  const schemeEnd = target.indexOf('://')
  if (schemeEnd === -1) return target
  const authorityStart = schemeEnd + 3
  const slash = target.indexOf('/', authorityStart)
  const query = target.indexOf('?', authorityStart)
  if (query !== -1 && (slash === -1 || query < slash)) return '/' + target.slice(query)
  return slash === -1 ? '/' : target.slice(slash)
}
