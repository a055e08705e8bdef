/**
 * Package name -> display name, from the sourced catalogue beside this file.
 * An id that several apps share has a display name that says so; an id we do
 * not know is "Unknown Client", as the field server answered.
 */
import { UNKNOWN_CLIENT } from 'whatclient-sdk'
import data from './clients.json' with { type: 'json' }

export { UNKNOWN_CLIENT }

const byPackage = new Map<string, string>(data.clients.map((c) => [c.package, c.display]))

export function displayName (packageName: string): string {
  return byPackage.get(packageName) ?? UNKNOWN_CLIENT
}

/** Every package the catalogue knows, with its display name (GET /v2/catalogue serves them). */
export function displayNames (): ReadonlyMap<string, string> {
  return byPackage
}
