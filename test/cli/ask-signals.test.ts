import { beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer, userIdArgs } from '../helper.js'
import { runCli } from '../process-helper.js'

let server: TestServer
const user = userIdArgs()

beforeAll(async () => { server = await build() })

describe('ask stops cleanly when told to', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('on %s: says so, exits 1, not killed by the signal', async (signal) => {
    const asking = runCli(['ask', user(), '--as', user()], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    await asking.waitFor(/Asked \d+; the request expires/)
    asking.process.kill(signal)
    expect(await asking.exited).toBe(1)
    expect(asking.stderr()).toMatch(new RegExp(`whatclient: interrupted \\(${signal}\\)\\n$`))
    expect(asking.stdout()).toBe('')
  })

  it('in JSON too', async () => {
    const target = user()
    const asking = runCli(['ask', target, '--as', user(), '--json'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: server.key })
    // A --json ask prints nothing while it waits: its task being listed shows that it asked.
    await expect.poll(async () => ((await (await server.get(`/getTasks/${target}`)).json()) as { tasks: string[] }).tasks, { timeout: 10_000 }).toHaveLength(1)
    asking.process.kill('SIGTERM')
    expect(await asking.exited).toBe(1)
    expect(JSON.parse(asking.stdout())).toEqual({ status: 'error', error: 'interrupted (SIGTERM)' })
  })
})
