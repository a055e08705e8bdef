/**
 * The package's public entry: `import { WhatClient, WhatClientV2 } from 'whatclient-sdk'`.
 * `WhatClient` speaks v1 (the shared key), `WhatClientV2` v2 (a signed-in
 * Telegram user, sealed answers). The server imports its protocol pieces
 * (`sign`, `UNKNOWN_CLIENT`, `isPackageName`) from here too, so that both
 * ends share one definition.
 */
export { WhatClient, type AnswerOptions, type ResultState, type WaitOptions, type WaitOutcome, type WhatClientOptions } from './client.js'
export {
  WhatClientV2,
  type AnswerOutcome, type AnswerState, type AnswerTasksOptions, type AskOptions, type CompletedAnswer, type PollOptions,
  type ServerInfo, type Session, type Task, type TaskDecision, type WhatClientV2Options
} from './verified-client.js'
export { type Catalogue } from './catalogue.js'
export { WhatClientError } from './errors.js'
export { isTransportFailure } from './http.js'
export { isPackageName, UNKNOWN_CLIENT } from './protocol.js'
export {
  makeKeyPair, openAnswer, sealAnswer, SealingError,
  type SealedAnswer, type SealingErrorCode, type SealingKeyPair, type SealingPrivateKey
} from './sealing.js'
export { sign } from './signature.js'
