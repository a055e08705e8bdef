/**
 * What the v2 calls share: the error shape and the Bearer scheme's name in
 * the API description.
 */
import { Type } from 'typebox'

export const Detail = Type.Object({ detail: Type.Unknown({ description: 'What went wrong' }) }, { description: 'Error' })

export const errorReplies = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Detail]))

/** Telegram user ids: positive integers that a JSON number carries exactly. */
export const UserId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Telegram user id' })

/** `security` of the calls behind requireSession; the `bearer` scheme itself is still to be declared in plugins/openapi.ts. */
export const BEARER = [{ bearer: [] }]
