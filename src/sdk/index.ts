/**
 * The package's public entry: `import { WhatClient } from 'whatclient'`.
 */
export { WhatClient, type AnswerOptions, type ResultState, type WaitOptions, type WaitOutcome, type WhatClientOptions } from './client.js'
export { WhatClientError } from './errors.js'
export { sign } from '../crypto/signature.js'
