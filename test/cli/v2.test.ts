/**
 * `whatclient ask` and `answer` in v2 (--init-data), as child processes
 * against a real server: sealed by default, plain and named when told, the
 * answer named and said verified, a decline, and the mistakes of mixing v1
 * and v2 flags.
 */
import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { signInitData } from '../../src/identity/init-data.js'
import { build, signInWith, type TestServer, userIds } from '../helper.js'
import { runCli, type Child } from '../process-helper.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
const user = userIds()
// A query_id of its own, as Telegram gives each: init data made twice in one second still differs.
const initDataFor = (id: number): string => signInitData({ botToken: BOT_TOKEN, user: id, fields: { query_id: randomUUID() } })

let server: TestServer
beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN }) })

async function stopped (child: Child): Promise<void> {
  child.process.kill('SIGINT')
  await child.exited
}

describe('whatclient ask / answer with --init-data (v2)', () => {
  it('asks sealed and anonymous by default, and plain and named when told; says verified', async () => {
    const [asker, target] = [user(), user()]
    const answering = runCli(['answer', '--server', server.url, '--package', 'com.exteragram.messenger'], { WHATCLIENT_INIT_DATA: initDataFor(target) })
    try {
      await answering.waitFor(/Answering questions about \d+ as com\.exteragram\.messenger/)
      const sealed = runCli(['ask', String(target), '--server', server.url, '--init-data', initDataFor(asker)])
      expect(await sealed.exited).toBe(0)
      expect(sealed.stdout()).toBe(`${target} uses exteraGram (com.exteragram.messenger): verified, sealed\n`)
      expect(sealed.stderr()).toMatch(new RegExp(`Signed in as ${asker}\\n[^]*Asked ${target} \\(sealed, anonymous\\); the request expires in [12]:\\d\\d`))
      await answering.waitFor(/answered 1: anonymous, verified, sealed/)

      const plain = runCli(['ask', String(target), '--plain', '--named', '--json'], { WHATCLIENT_URL: server.url, WHATCLIENT_INIT_DATA: initDataFor(asker) })
      expect(await plain.exited).toBe(0)
      expect(JSON.parse(plain.stdout())).toEqual({
        status: 'completed', target, client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: true, sealed: false
      })
      expect(plain.stderr()).toBe('')
      await answering.waitFor(new RegExp(`answered 2: from ${asker}, verified, plain`))
    } finally {
      await stopped(answering)
    }
    expect(answering.stderr()).toMatch(/stopped after 2 answer\(s\) and 0 decline\(s\)/)
  })

  it('answer --decline declines, and ask says so and exits 2', async () => {
    const [asker, target] = [user(), user()]
    const declining = runCli(['answer', '--server', server.url, '--decline', '--init-data', initDataFor(target)])
    try {
      await declining.waitFor(/Declining every question about \d+/)
      const asking = runCli(['ask', String(target), '--server', server.url, '--init-data', initDataFor(asker)])
      expect(await asking.exited).toBe(2)
      expect(asking.stdout()).toBe(`${target} declined to say which app they use. Some people answer only those they know: asking with --named shows them who asks.\n`)
      await declining.waitFor(/declined 1: anonymous, verified, sealed/)
      const json = runCli(['ask', String(target), '--server', server.url, '--named', '--json', '--init-data', initDataFor(asker)])
      expect(await json.exited).toBe(2)
      expect(JSON.parse(json.stdout())).toEqual({ status: 'declined', target })
    } finally {
      await stopped(declining)
    }
  })

  it('exits 2 at --timeout, and says when the request expires', async () => {
    // Long enough for a loaded machine to sign in and ask first.
    const asking = runCli(['ask', String(user()), '--server', server.url, '--timeout', '2', '--init-data', initDataFor(user())])
    expect(await asking.exited).toBe(2)
    expect(asking.stdout()).toMatch(/^No answer from \d+ within 2 s \(--timeout\)\. The request stays open until \d\d:\d\d:\d\d\.\n$/)
  })

  it('says why init data is refused, and exits 1', async () => {
    const used = initDataFor(user())
    await signInWith(server.url, used)
    const asking = runCli(['ask', String(user()), '--server', server.url, '--init-data', used])
    expect(await asking.exited).toBe(1)
    expect(asking.stderr()).toMatch(/401: Init data was already used; get fresh init data from Telegram\. \(Init data is accepted once, for a few minutes, and only from the server's own bot\.\)\n$/)
  })

  // Each case its own test (and time limit): a CLI process start is slow on two busy cores.
  const mixed: Array<[string, (data: string) => [string[], Record<string, string>], RegExp]> = [
    ['--init-data with --key', (data) => [['ask', '2', '--init-data', data, '--key', 'k'], {}], /pass either --key \(v1\) or --init-data \(v2\), not both/],
    ['both variables', (data) => [['ask', '2'], { WHATCLIENT_INIT_DATA: data, WHATCLIENT_KEY: 'k' }], /both WHATCLIENT_KEY \(v1\) and WHATCLIENT_INIT_DATA \(v2\) are set/],
    ['--as in v2', (data) => [['ask', '2', '--as', '1', '--init-data', data], {}], /--as is for v1 \(--key\): in v2 you are the user your init data names/],
    ['--plain in v1', () => [['ask', '2', '--as', '1', '--key', 'k', '--plain'], {}], /--plain and --named are for v2/],
    ['v1 without --as', () => [['ask', '2', '--key', 'k'], {}], /v1 needs --as <me>/],
    ['--decline in v1', () => [['answer', '--as', '1', '--key', 'k', '--decline'], {}], /--decline is for v2/],
    ['answer without --package', (data) => [['answer', '--init-data', data], {}], /--package <name> is needed \(or --decline, in v2\)/],
    ['--decline with --package', (data) => [['answer', '--init-data', data, '--decline', '--package', 'a.b'], {}], /pass either --package \(answer\) or --decline, not both/]
  ]

  it.each(mixed)('refuses v1 and v2 flags mixed: %s', async (_case, make, message) => {
    const [args, env] = make(initDataFor(user()))
    const run = runCli([...args, '--server', server.url], env)
    expect(await run.exited, args.join(' ')).toBe(1)
    expect(run.stderr()).toMatch(message)
  })

  it('lets a flag beat the environment: --key on the command line with init data in the environment is v1', async () => {
    const v1 = runCli(['ask', '2', '--as', '1', '--key', 'wrong', '--server', server.url], { WHATCLIENT_INIT_DATA: initDataFor(user()) })
    expect(await v1.exited).toBe(1)
    expect(v1.stderr()).toMatch(/403: Invalid signature\./)
  })
})
