/**
 * TypeBox schemas of the v1 calls: they validate input, make responses fast to
 * serialise, and describe the API in /openapi.json.
 */
import { Type } from 'typebox'

/** Telegram user ids: positive integers that a JSON number carries exactly. */
export const UserId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Telegram user id' })
export const RequestId = Type.String({ minLength: 1, maxLength: 128, description: 'Request id (a UUID v4)' })
/**
 * What an Android package name can be: two or more dot-separated segments of ASCII letters,
 * digits and `_`, each starting with a letter. Answers reach the requester's screen and
 * terminal: nothing else (no escape or control character, no spaces, no other script)
 * may travel in one.
 */
export const PackageName = Type.String({
  minLength: 3,
  maxLength: 255,
  pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$',
  description: "The target app's Android package name, e.g. com.exteragram.messenger: segments of letters, digits and _, each starting with a letter, joined by dots; at most 255 characters"
})

export const Detail = Type.Object({
  detail: Type.Unknown({ description: 'What went wrong: a message, or (422) a list of failed fields' })
}, { description: 'Error' })

export const Wait = (maxSeconds: number) => Type.Object({
  wait: Type.Optional(Type.Number({
    minimum: 0,
    maximum: maxSeconds,
    default: 0,
    description: `Long-poll: hold the call up to this many seconds until there is something to return (0 = answer at once, as v1). A plain decimal such as 25 or 0.5 (no sign, exponent or spaces). Not part of the signature.`
  }))
})

export const RequestClientBody = Type.Object({ requester_id: UserId, target_id: UserId })
export const RequestClientReply = Type.Object({ request_id: Type.String() })

export const TasksParams = Type.Object({ user_id: UserId })
export const TasksReply = Type.Object({ tasks: Type.Array(Type.String(), { description: 'Request ids, oldest first' }) })

export const SubmitBody = Type.Object({ request_id: RequestId, client_name: PackageName })
export const SubmitReply = Type.Object({ status: Type.Literal('success') })

export const ResultParams = Type.Object({ request_id: RequestId })
export const ResultReply = Type.Object({
  status: Type.Enum(['pending', 'completed', 'expired']),
  client_name: Type.Optional(Type.String({ description: "The target app's display name (completed only)" })),
  package_name: Type.Optional(Type.String({ description: "The target app's package name as it answered (completed only; an extension v1 clients ignore)" }))
})

export const SIGNED = [{ signature: [] }]

export const errorReplies = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Detail]))
