/**
 * How an answer is held, in both adapters: its kind apart, and what it says
 * (a package name, or a sealed answer's `enc.ciphertext`; nothing for a
 * decline) as one string, sealed at rest like every other value. A retried
 * answer is compared on that string.
 */
import type { Answer } from './task-store.js'

export type AnswerKind = Answer['kind']

/**
 * A package name is held padded with spaces to the longest one allowed (255): sealing hides
 * what it says, not how long it is, and the main apps' names differ in length. Package
 * names hold no spaces, so the padding comes off again; one held unpadded (written before
 * padding) reads the same.
 */
const PLAIN_LENGTH = 255

/** What an answer says, as the one string a store seals; undefined for a decline. */
export function answerPayload (answer: Answer): string | undefined {
  switch (answer.kind) {
    case 'plain': return answer.packageName.padEnd(PLAIN_LENGTH, ' ')
    // base64url has no '.', so the two parts split apart again unambiguously.
    case 'sealed': return `${answer.sealed.enc}.${answer.sealed.ciphertext}`
    case 'declined': return undefined
  }
}

/** The answer back from its kind and opened payload; undefined when they do not fit (a value that did not open). */
export function answerFromPayload (kind: AnswerKind, payload: string | undefined): Answer | undefined {
  if (kind === 'declined') return { kind }
  if (payload === undefined) return undefined
  if (kind === 'plain') return { kind, packageName: payload.trimEnd() }
  const dot = payload.indexOf('.')
  if (dot === -1) return undefined
  return { kind, sealed: { enc: payload.slice(0, dot), ciphertext: payload.slice(dot + 1) } }
}
