import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer, userIdArgs } from '../helper.js'
import { runCli, type Child } from '../process-helper.js'
import { recordingProxy } from './stand-in.js'

let server: TestServer
const user = userIdArgs()

beforeAll(async () => { server = await build() })

/** Two asks for one pair, both made before the target answers once; the first to read hears the answer. */
async function twoAsksOneAnswer (extra: string[]): Promise<{ winner: Child, loser: Child, me: string, target: string }> {
  const [me, target] = [user(), user()]
  const proxy = await recordingProxy(server.url)
  try {
    const env = { WHATCLIENT_URL: proxy.url, WHATCLIENT_KEY: server.key }
    const asks = [runCli(['ask', target, '--as', me, ...extra], env), runCli(['ask', target, '--as', me, ...extra], env)]
    // Both asks have their request id: the server gave them the same one.
    await expect.poll(() => proxy.calls.filter((c) => c === 'POST /requestClient 200'), { timeout: 10_000 }).toHaveLength(2)
    const { tasks } = await (await server.get(`/getTasks/${target}`)).json() as { tasks: string[] }
    expect(tasks).toHaveLength(1)
    expect((await server.post('/submitTaskResult', { request_id: tasks[0], client_name: 'com.exteragram.messenger' })).status).toBe(200)
    const codes = await Promise.all(asks.map(async (a) => a.exited))
    expect([...codes].sort()).toEqual([0, 2])
    const [winner, loser] = codes[0] === 0 ? asks : [asks[1], asks[0]]
    return { winner: winner as Child, loser: loser as Child, me, target }
  } finally {
    await proxy.close()
  }
}

describe('two asks for the same pair share one request', () => {
  it('the one that reads second is told what most likely happened, not "no answer"', async () => {
    const { winner, loser, me, target } = await twoAsksOneAnswer([])
    expect(winner.stdout()).toBe(`${target} uses exteraGram (com.exteragram.messenger)\n`)
    expect(loser.stdout()).toMatch(/^No answer for this ask: the request ended after 0:0\d, before its 2:00 were up\.\n/)
    expect(loser.stdout()).toContain(`Asks by ${me} about ${target} share one request: another ask most likely received the answer`)
    expect(loser.stdout()).not.toMatch(/offline/)
  })

  it('in JSON: status expired, ended_early true', async () => {
    const { winner, loser, target } = await twoAsksOneAnswer(['--json'])
    expect(JSON.parse(winner.stdout())).toMatchObject({ status: 'completed', client_name: 'exteraGram' })
    expect(JSON.parse(loser.stdout())).toEqual({ status: 'expired', target: Number(target), ended_early: true })
  })
})
