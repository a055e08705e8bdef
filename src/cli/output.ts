/**
 * Text that reaches the terminal. Whatever a server sends (a client name, an
 * error detail) is untrusted: escape and control characters in it could move
 * the cursor, rewrite lines, change the window title or reorder text (bidi
 * overrides), so that a forged answer looks real. Every line the CLI prints
 * goes through `printable`, and every JSON document through `jsonLine`.
 */

/**
 * Characters that do something other than show a glyph: C0 and C1 controls and
 * DEL (Cc), invisible format characters such as bidi overrides and zero-width
 * joiners (Cf), line and paragraph separators (Zl, Zp), lone surrogates (Cs).
 */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu

/** Longest untrusted text shown; more is cut, so that a hostile server cannot flood the terminal. */
export const MAX_SHOWN = 300

/**
 * `text` made safe for a terminal: each character that is not printable is shown
 * as an escape (`\x1b`, `\u{202e}`), so that tampering is visible instead of
 * effective; text longer than `MAX_SHOWN` is cut with a mark.
 */
export function printable (text: string): string {
  const cut = text.length > MAX_SHOWN ? text.slice(0, MAX_SHOWN) : text
  const shown = cut.replace(NOT_PRINTABLE, (c) => {
    const code = c.codePointAt(0) as number
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
  return cut === text ? shown : `${shown}... (${text.length - MAX_SHOWN} more characters)`
}

/**
 * One line of JSON with the exact values (a script gets the true strings), in
 * which every non-printable character is a `\uXXXX` escape: JSON.stringify
 * escapes only C0 controls, and leaves DEL, C1 controls and bidi overrides raw.
 */
export function jsonLine (value: unknown): string {
  return JSON.stringify(value).replace(NOT_PRINTABLE, (c) => {
    let escaped = ''
    for (let i = 0; i < c.length; i++) escaped += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`
    return escaped
  }) + '\n'
}
