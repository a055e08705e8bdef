import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer, userIdArgs } from '../helper.js'
import { freePort, runCli, serveProcess, type Child } from '../process-helper.js'

let server: TestServer
const user = userIdArgs()

beforeAll(async () => { server = await build() })

describe('answer keeps going, and says so, while the server cannot be reached', () => {
  it('says that it retries, then that the server is back, and answers', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const [alice, bob] = [user(), user()]
    const answering = runCli(['answer', '--as', bob, '--package', 'com.radolyn.ayugram'], { WHATCLIENT_URL: url, WHATCLIENT_KEY: 'k' })
    let served: { child: Child, url: string } | undefined
    try {
      await answering.waitFor(/cannot reach the server \(ECONNREFUSED\); retrying in \d+\.\d s\n[^]*retrying in/)
      expect(answering.process.exitCode).toBeNull()

      served = await serveProcess({ PORT: String(port), API_SECRET_KEY: 'k' })
      // The first answer after the outage may be a long-poll that a task releases: ask.
      const asking = runCli(['ask', bob, '--as', alice], { WHATCLIENT_URL: url, WHATCLIENT_KEY: 'k' })
      expect(await asking.exited).toBe(0)
      expect(asking.stdout()).toBe(`${bob} uses AyuGram (com.radolyn.ayugram)\n`)
      await answering.waitFor(/reached the server again\n(.*\n)*answered 1\n/)
    } finally {
      answering.process.kill('SIGTERM')
      served?.child.process.kill('SIGTERM')
      await served?.child.exited
    }
    expect(await answering.exited).toBe(0)
    expect(answering.stderr()).toMatch(/answered 1\nstopped after 1 answer\(s\)\n$/)
    expect(answering.stderr().match(/reached the server again/g)).toHaveLength(1)
  })
})

describe('a 403 points at the key', () => {
  it.each([
    ['ask', ['ask', '2', '--as', '1']],
    ['answer', ['answer', '--as', '1', '--package', 'com.exteragram.messenger']]
  ])('%s with the wrong key', async (_name, args) => {
    const run = runCli(args, { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'not the key' })
    expect(await run.exited).toBe(1)
    expect(run.stderr()).toMatch(/403: Invalid signature\. Check the key: --key or WHATCLIENT_KEY must be the server's API_SECRET_KEY\.\n$/)
  })
})
