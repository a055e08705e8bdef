/**
 * How a number must be written where text becomes one (a setting, a query, a
 * path): digits only, no sign, no leading zero, no exponent, no spaces. What
 * JavaScript would also read as a number ("1e400" as Infinity, "0x10" as 16,
 * " 5" as 5, "02" or "2.0" as user 2) is not what anyone means.
 */

/** A decimal number, with or without a fraction. */
export const PLAIN_DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/
/** A whole number. */
export const PLAIN_WHOLE = /^(?:0|[1-9][0-9]*)$/
