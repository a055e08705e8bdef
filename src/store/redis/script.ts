/**
 * Runs a Lua script by its SHA1 (EVALSHA), loading it with EVAL the first time
 * a Redis does not know it (after a restart, or on a new server).
 */
import { createHash } from 'node:crypto'
import type { RedisClientType } from 'redis'

export class Script {
  readonly #client: RedisClientType
  readonly #source: string
  readonly #sha: string

  constructor (client: RedisClientType, source: string) {
    this.#client = client
    this.#source = source
    this.#sha = createHash('sha1').update(source).digest('hex')
  }

  async run (keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.#client.evalSha(this.#sha, { keys, arguments: args })
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return this.#client.eval(this.#source, { keys, arguments: args })
    }
  }
}
