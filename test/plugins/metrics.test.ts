import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Metrics } from '../../src/metrics/metrics.js'
import { build, sleep, type TestServer } from '../helper.js'

let server: TestServer
let metricsUrl: string
// Distinctive ids and package, so that finding them anywhere in the output means a leak.
const REQUESTER = 7_314_159_265
const TARGET = 7_271_828_182
const PACKAGE = 'org.leaky.messenger'

beforeAll(async () => {
  server = await build({ METRICS_PORT: '0' })
  const address = server.app.metricsAddress()
  if (address === null) throw new Error('metrics not listening')
  metricsUrl = `http://127.0.0.1:${address.port}/metrics`
})
afterAll(async () => server.close())

async function scrape (): Promise<string> {
  const res = await fetch(metricsUrl)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

/** The value of one series, e.g. `whatclient_http_requests_total{method="GET",...}`; 0 when absent. */
function value (text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

const requests = (method: string, route: string, status: number): string =>
  `whatclient_http_requests_total{method="${method}",route="${route}",status_code="${status}"}`

describe('metrics', () => {
  it('count a v1 flow by route pattern and status, and name no user, request or package', async () => {
    const before = await scrape()
    const created = await server.post('/requestClient', { requester_id: REQUESTER, target_id: TARGET })
    const { request_id: requestId } = await created.json() as { request_id: string }
    const pending = await scrape()
    expect(await (await server.get(`/getTasks/${TARGET}`)).json()).toEqual({ tasks: [requestId] })
    expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: PACKAGE })).status).toBe(200)
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed', package_name: PACKAGE })
    expect((await server.get(`/getTasks/${TARGET}`, { signature: '00' })).status).toBe(403)
    expect((await server.get(`/nowhere/${TARGET}/${requestId}`)).status).toBe(404)
    const after = await scrape()

    for (const [method, route, status] of [
      ['POST', '/requestClient', 200], ['GET', '/getTasks/:user_id', 200], ['POST', '/submitTaskResult', 200],
      ['GET', '/getRequestResult/:request_id', 200], ['GET', '/getTasks/:user_id', 403], ['GET', '(unmatched)', 404]
    ] as const) {
      expect(value(after, requests(method, route, status)) - value(before, requests(method, route, status)), `${method} ${route} ${status}`).toBe(1)
    }
    const latencyCount = 'whatclient_http_request_duration_seconds_count{method="POST",route="/requestClient",status_code="200"}'
    expect(value(after, latencyCount) - value(before, latencyCount)).toBe(1)
    expect(after).toMatch(/^whatclient_http_request_duration_seconds_bucket\{le="0\.005",method="POST",route="\/requestClient",status_code="200"\} \d+$/m)
    expect(value(pending, 'whatclient_pending_requests')).toBeGreaterThanOrEqual(1)
    // Node's process metrics are there too.
    expect(after).toMatch(/^process_cpu_user_seconds_total \d/m)
    expect(after).toMatch(/^nodejs_eventloop_lag_seconds \d/m)
    expect(after).toMatch(/^whatclient_store_failures_total\{kind="timeout"\} 0$/m)

    for (const text of [pending, after]) {
      for (const secret of [String(REQUESTER), String(TARGET), requestId, PACKAGE, 'exteraGram', '127.0.0.1']) {
        expect(text).not.toContain(secret)
      }
    }
  })

  it('read the long-polls held now', async () => {
    const stop = new AbortController()
    const held = server.get(`/getTasks/${TARGET + 1}?wait=20`, { signal: stop.signal }).catch(() => undefined)
    let text = ''
    for (let i = 0; i < 200; i++) {
      text = await scrape()
      if (value(text, 'whatclient_held_polls') === 1) break
      await sleep(10)
    }
    expect(value(text, 'whatclient_held_polls')).toBe(1)
    stop.abort()
    await held
  })

  it('are not served on the public port', async () => {
    const res = await fetch(`${server.url}/metrics`)
    expect(res.status).toBe(404)
    expect(await res.text()).not.toContain('whatclient_')
    expect(new URL(metricsUrl).port).not.toBe(new URL(server.url).port)
  })

  it('listener answers /metrics only', async () => {
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404)
    expect((await fetch(metricsUrl, { method: 'POST', body: 'x' })).status).toBe(405)
    expect((await fetch(metricsUrl + '?x=1')).status).toBe(200)
  })

  it('take store failures and sign-ins through the interface other components use', async () => {
    const metrics = new Metrics()
    metrics.storeFailure('timeout')
    metrics.storeFailure('timeout')
    metrics.signIn('refused')
    const { body } = await metrics.exposition()
    expect(value(body, 'whatclient_store_failures_total{kind="timeout"}')).toBe(2)
    expect(value(body, 'whatclient_store_failures_total{kind="error"}')).toBe(0)
    expect(value(body, 'whatclient_sign_ins_total{outcome="refused"}')).toBe(1)
  })

  it('keep a scrape alive when the pending count cannot be read', async () => {
    const metrics = new Metrics()
    metrics.readPendingRequests(async () => { throw new Error('store down') })
    expect((await metrics.exposition()).body).toContain('whatclient_pending_requests')
  })
})

describe('the metrics listener', () => {
  it('is off by default', async () => {
    const plain = await build()
    try {
      expect(plain.app.metricsAddress()).toBeNull()
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404)
    } finally {
      await plain.close()
    }
  })

  it('listens on METRICS_HOST, loopback by default, and closes with the app', async () => {
    expect(loadConfig({ METRICS_PORT: '9464' })).toMatchObject({ metricsHost: '127.0.0.1', metricsPort: 9464 })
    const other = await build({ METRICS_PORT: '0' })
    const address = other.app.metricsAddress()
    expect(address?.address).toBe('127.0.0.1')
    const url = `http://127.0.0.1:${address?.port}/metrics`
    expect((await fetch(url)).status).toBe(200)
    await other.close()
    expect(other.app.metricsAddress()).toBeNull()
    await expect(fetch(url)).rejects.toThrow()
  })

  it('refuses a METRICS_PORT equal to PORT, or out of range', () => {
    expect(() => loadConfig({ PORT: '8000', METRICS_PORT: '8000' })).toThrow(/METRICS_PORT must differ from PORT/)
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/)
    expect(() => loadConfig({ METRICS_PORT: '' })).toThrow(/METRICS_PORT/)
  })
})
