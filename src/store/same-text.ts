/**
 * Compares an answer held by a store with one a submit brings, in constant
 * time: a repeated submit learns only "same" or "not same".
 */
import { timingSafeEqual } from 'node:crypto'

export function sameText (held: string | undefined, offered: string): boolean {
  if (held === undefined) return false
  const a = Buffer.from(held)
  const b = Buffer.from(offered)
  return a.length === b.length && timingSafeEqual(a, b)
}
