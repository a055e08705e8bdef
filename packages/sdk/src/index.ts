/**
 * The package's public entry: `import { WhatClient } from 'whatclient-sdk'`.
 * The server imports its protocol pieces (`sign`, `UNKNOWN_CLIENT`) from here
 * too, so that both ends share one definition.
 */
export { WhatClient, type AnswerOptions, type ResultState, type WaitOptions, type WaitOutcome, type WhatClientOptions } from './client.js'
export { WhatClientError } from './errors.js'
export { UNKNOWN_CLIENT } from './protocol.js'
export {
  makeKeyPair, openAnswer, sealAnswer, SealingError,
  type SealedAnswer, type SealingErrorCode, type SealingKeyPair, type SealingPrivateKey
} from './sealing.js'
export { sign } from './signature.js'
