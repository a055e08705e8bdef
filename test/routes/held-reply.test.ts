import { describe, expect, it } from 'vitest'
import { holdReply, replyWith } from '../../src/routes/held-reply.js'
import type { Held } from '../../src/relay/relay.js'
import { build } from '../helper.js'

describe('a held call that fails', () => {
  it('is answered as an error even when the store rejects with something that is not an Error', async () => {
    const outcome = replyWith((value: string[]) => ({ tasks: value }))
    const server = await build({}, {
      beforeListen (app) {
        // A hold whose store call rejected with a bare string: the outcome is all that is tested.
        app.get('/test/held-failure', (_request, reply) => {
          const held: Held = {
            start () { outcome.fail(reply, 'store said no: user 424242') },
            leave () {}
          }
          holdReply(reply, held)
        })
      }
    })
    const response = await fetch(`${server.url}/test/held-failure`)
    const text = await response.text()
    expect(response.status).toBe(500)
    expect(text).not.toContain('424242')
    expect(JSON.parse(text)).toHaveProperty('detail')
  })
})
