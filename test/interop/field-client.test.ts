import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../helper.js'

const run = promisify(execFile)
const SCRIPT = fileURLToPath(new URL('./field_client.py', import.meta.url))

let server: TestServer
beforeAll(async () => { server = await build() })
afterAll(async () => server.close())

describe('a v1 field client in Python (stdlib, json.dumps signing)', () => {
  it('runs the whole Alice/Bob flow', async () => {
    const { stdout } = await run('python3', [SCRIPT, server.url, server.key, '1001', '2002'])
    const seen = JSON.parse(stdout) as Record<string, unknown>
    const id = seen.request_id as string
    expect(seen.request).toEqual([200, { request_id: id }])
    expect(seen.tasks).toEqual([200, { tasks: [id] }])
    expect(seen.pending).toEqual([200, { status: 'pending' }])
    expect(seen.submit).toEqual([200, { status: 'success' }])
    expect(seen.retry).toEqual([200, { status: 'success' }])
    expect(seen.again).toEqual([404, { detail: 'Request not found or already processed.' }])
    expect(seen.result).toEqual([200, { status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram' }])
    expect(seen.delivered).toEqual([200, { status: 'expired' }])
    expect(seen.bad_signature).toEqual([403, { detail: 'Invalid signature.' }])
  })
})
