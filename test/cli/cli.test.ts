import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer, userIdArgs } from '../helper.js'
import { runCli } from '../process-helper.js'

let server: TestServer
const user = userIdArgs()

beforeAll(async () => { server = await build() })

describe('whatclient ask / answer, as child processes', () => {
  it('one process answers, another asks and prints the answer', async () => {
    const [alice, bob] = [user(), user()]
    const env = { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key }
    const answering = runCli(['answer', '--as', bob, '--package', 'com.exteragram.messenger'], env)
    try {
      await answering.waitFor(/Answering tasks/)
      const asking = runCli(['ask', bob, '--as', alice], env)
      expect(await asking.exited).toBe(0)
      expect(asking.stdout()).toBe(`${bob} uses exteraGram (com.exteragram.messenger)\n`)
      expect(asking.stderr()).toMatch(/^Asking .* which app \d+ uses\.\.\.\nAsked \d+; the request expires in 2:00/)
      await answering.waitFor(/answered 1/)

      const json = runCli(['ask', bob, '--as', user(), '--json', '--server', server.url, '--key', server.key], {})
      expect(await json.exited).toBe(0)
      expect(JSON.parse(json.stdout())).toEqual({ status: 'completed', target: Number(bob), client_name: 'exteraGram', package_name: 'com.exteragram.messenger' })
      expect(json.stderr()).toBe('')
    } finally {
      answering.process.kill('SIGINT')
    }
    expect(await answering.exited).toBe(0)
    expect(answering.stderr()).toMatch(/stopped after 2 answer/)
  })

  it('exits 2 when no answer comes before expiry', async () => {
    const short = await build({ REQUEST_TTL_SECONDS: '0.5' })
    try {
      const asking = runCli(['ask', user(), '--as', user(), '--json'], { WHATCLIENT_URL: short.url, WHATCLIENT_KEY: short.key })
      expect(await asking.exited).toBe(2)
      expect(JSON.parse(asking.stdout())).toMatchObject({ status: 'expired' })
    } finally {
      await short.close()
    }
  })

  it('exits 2 at --timeout, and 1 on errors, with a message', async () => {
    const env = { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key }
    const timeout = runCli(['ask', user(), '--as', user(), '--timeout', '0.3'], env)
    expect(await timeout.exited).toBe(2)
    expect(timeout.stdout()).toMatch(/No answer from/)

    const wrongKey = runCli(['ask', user(), '--as', user()], { ...env, WHATCLIENT_KEY: 'nope' })
    expect(await wrongKey.exited).toBe(1)
    expect(wrongKey.stderr()).toMatch(/403: Invalid signature\./)

    const badId = runCli(['ask', 'bob', '--as', user()], env)
    expect(await badId.exited).toBe(1)
    expect(badId.stderr()).toMatch(/target must be a positive integer/)

    const noKey = runCli(['ask', user(), '--as', user()], { WHATCLIENT_URL: server.url })
    expect(await noKey.exited).toBe(1)
    expect(noKey.stderr()).toMatch(/no key/)

    for (const name of ['not a package', 'com.1password', 'com._x', 'nodots', `a.${'b'.repeat(254)}`]) {
      const badPackage = runCli(['answer', '--as', user(), '--package', name], env)
      expect(await badPackage.exited, name).toBe(1)
      expect(badPackage.stderr()).toMatch(/not an Android package name/)
    }
  })

  it('exits 1 when the server cannot be reached', async () => {
    const down = await build()
    const url = down.url
    await down.close()
    const asking = runCli(['ask', user(), '--as', user(), '--json'], { WHATCLIENT_URL: url, WHATCLIENT_KEY: 'k' })
    expect(await asking.exited).toBe(1)
    expect(JSON.parse(asking.stdout())).toMatchObject({ status: 'error', error: expect.stringMatching(/cannot reach the server \(ECONNREFUSED\)/) })
  })

  it('says so when fetch will not connect to the port at all', async () => {
    // 6667 is one of the Fetch standard's "bad ports": fetch refuses it before any connection, and no retry can help.
    const asking = runCli(['ask', user(), '--as', user(), '--json', '--timeout', '30'], { WHATCLIENT_URL: 'http://127.0.0.1:6667', WHATCLIENT_KEY: 'k' })
    expect(await asking.exited).toBe(1)
    expect(JSON.parse(asking.stdout())).toMatchObject({ status: 'error', error: expect.stringMatching(/fetch does not connect to that port .*; serve on another/) })
  })

  it.each([[[]], [['serve']], [['ask']], [['answer']]])('--help on %o', async (args) => {
    const help = runCli([...args, '--help'])
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toMatch(/^Usage: whatclient/)
  })
})
