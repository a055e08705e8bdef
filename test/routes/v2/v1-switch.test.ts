import { describe, expect, it } from 'vitest'
import { build } from '../../helper.js'

describe('V1_ENABLED', () => {
  it('false switches the four v1 calls off (404), and v2 stays', async () => {
    const server = await build({ V1_ENABLED: 'false' })
    try {
      const calls = [
        server.post('/requestClient', { requester_id: 1, target_id: 2 }),
        server.get('/getTasks/2'),
        server.post('/submitTaskResult', { request_id: 'x', client_name: 'com.radolyn.ayugram' }),
        server.get('/getRequestResult/x')
      ]
      for (const res of await Promise.all(calls)) {
        expect(res.status).toBe(404)
        expect(await res.json()).toEqual({ detail: 'Not Found' })
      }
      expect(await (await fetch(`${server.url}/v2/info`)).json()).toMatchObject({ v1_enabled: false })
    } finally {
      await server.close()
    }
  })

  it('true (the default) keeps them', async () => {
    const server = await build()
    try {
      expect((await server.get('/getTasks/2')).status).toBe(200)
    } finally {
      await server.close()
    }
  })
})
