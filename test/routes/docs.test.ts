import { randomBytes } from 'node:crypto'
import { createContext, runInContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, type TestServer } from '../helper.js'

let server: TestServer
let nextUser = 8_400_000_000
const user = (): number => ++nextUser

beforeAll(async () => {
  server = await build()
})
afterAll(async () => server.close())

interface PageRequest { url: string, method: string, headers: Record<string, string>, body?: unknown }
type Interceptor = (request: PageRequest) => Promise<PageRequest>

/**
 * Loads /docs as a browser would, minus the rendering: the page's scripts, in
 * order, as served, in a fresh JavaScript realm, with a stand-in for Swagger UI
 * that keeps the configuration the page gives it. Without `webCrypto` the realm
 * has no crypto.subtle, as a page served over plain http from another host.
 */
async function loadDocsPage (webCrypto: boolean): Promise<Interceptor> {
  const html = await (await fetch(`${server.url}/docs`)).text()
  const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1] as string)
  expect(scripts.some((src) => src.endsWith('/theme/sign.js'))).toBe(true)
  let config: { requestInterceptor?: Interceptor } = {}
  const page: Record<string, unknown> = {
    TextEncoder,
    URL,
    location: { href: `${server.url}/docs` },
    // Enough DOM for the page's own script (it waits for the top bar to swap the logo).
    document: { createElement: () => ({ href: '' }), querySelector: () => null, body: {} },
    MutationObserver: class { observe (): void {} },
    SwaggerUIBundle: Object.assign((c: typeof config) => { config = c; return { initOAuth: () => {} } }, { presets: { apis: {} }, plugins: { DownloadUrl: {} } }),
    SwaggerUIStandalonePreset: {}
  }
  if (webCrypto) page.crypto = globalThis.crypto
  page.window = page
  createContext(page)
  for (const src of scripts.filter((s) => !/swagger-ui-bundle|standalone-preset/.test(s))) {
    runInContext(await (await fetch(new URL(src, `${server.url}/docs`))).text(), page)
  }
  ;(page.onload as () => void)()
  expect(typeof config.requestInterceptor).toBe('function')
  return config.requestInterceptor as Interceptor
}

/** Sends what the page would after its interceptor ran. */
async function send (request: PageRequest): Promise<Response> {
  return fetch(request.url, { method: request.method, headers: request.headers, body: request.body as string | undefined })
}

describe('/docs signs "Try it out" requests in the page', () => {
  it.each([true, false])('with Web Crypto %s: every signed call goes through with only the key entered', async (webCrypto) => {
    const intercept = await loadDocsPage(webCrypto)
    const authorized = (): Record<string, string> => ({ 'X-Signature': server.key, 'Content-Type': 'application/json' })
    const [alice, bob] = [user(), user()]

    const created = await intercept({ url: `${server.url}/requestClient`, method: 'POST', headers: authorized(), body: `{\n  "requester_id": ${alice},\n  "target_id": ${bob}\n}` })
    expect(created.headers['X-Signature']).not.toBe(server.key)
    const createdRes = await send(created)
    expect(createdRes.status).toBe(200)
    const { request_id: requestId } = (await createdRes.json()) as { request_id: string }

    const tasks = await send(await intercept({ url: `${server.url}/getTasks/${bob}?wait=0`, method: 'GET', headers: authorized() }))
    expect(await tasks.json()).toEqual({ tasks: [requestId] })

    const submit = await send(await intercept({ url: `${server.url}/submitTaskResult`, method: 'POST', headers: authorized(), body: { request_id: requestId, client_name: 'com.exteragram.messenger' } }))
    expect(submit.status).toBe(200)

    const result = await send(await intercept({ url: `${server.url}/getRequestResult/${encodeURIComponent(requestId)}`, method: 'GET', headers: authorized() }))
    expect(await result.json()).toMatchObject({ status: 'completed', package_name: 'com.exteragram.messenger' })
  })

  it.each([true, false])('with Web Crypto %s: signs exactly as the server does, for any key and length', async (webCrypto) => {
    const intercept = await loadDocsPage(webCrypto)
    const keys = ['k', 'ваш_секретный_ключ', 'x'.repeat(64), 'y'.repeat(65), randomBytes(100).toString('base64')]
    const bodies = ['', 'a', '{"requester_id": 123, "target_id": 456}', 'é'.repeat(27), 'b'.repeat(55), 'c'.repeat(56), 'd'.repeat(64), 'e'.repeat(1000)]
    for (const key of keys) {
      for (const body of bodies) {
        const signed = await intercept({ url: `${server.url}/requestClient`, method: 'POST', headers: { 'x-signature': key }, body })
        expect(signed.headers['x-signature'], `${key} / ${body.length}`).toBe(sign(key, body))
      }
      const path = await intercept({ url: `${server.url}/getTasks/%34%35%36?wait=1`, method: 'GET', headers: { 'X-Signature': key } })
      expect(path.headers['X-Signature']).toBe(sign(key, '/getTasks/456'))
    }
  })

  it('leaves requests without a key alone (the page fetching the spec, an unauthorized try)', async () => {
    const intercept = await loadDocsPage(true)
    const spec = { url: `${server.url}/docs/json`, method: 'GET', headers: { Accept: 'application/json' } }
    expect(await intercept({ ...spec, headers: { ...spec.headers } })).toEqual(spec)
    const unauthorized = await intercept({ url: `${server.url}/getTasks/5`, method: 'GET', headers: { 'X-Signature': '' } })
    expect(unauthorized.headers['X-Signature']).toBe('')
  })

  it('declares the bearer scheme, and the v2 calls that act as a user ask for it; a bearer token goes out as it is', async () => {
    const spec = (await (await fetch(`${server.url}/docs/json`)).json()) as {
      components: { securitySchemes: Record<string, { type: string, scheme?: string }> }
      paths: Record<string, Record<string, { security?: Array<Record<string, unknown>> }>>
    }
    expect(spec.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    const bearer = Object.entries(spec.paths).flatMap(([path, operations]) => Object.entries(operations)
      .filter(([, op]) => (op.security ?? []).some((s) => 'bearer' in s)).map(([method]) => `${method.toUpperCase()} ${path}`))
    expect(bearer.sort()).toEqual(['GET /v2/requests/{request_id}', 'GET /v2/tasks', 'POST /v2/answers', 'POST /v2/requests'])
    const intercept = await loadDocsPage(true)
    const call = { url: `${server.url}/v2/tasks`, method: 'GET', headers: { Authorization: 'Bearer abc' } }
    expect(await intercept({ ...call, headers: { ...call.headers } })).toEqual(call)
  })

  it('explains signing at the top of the page', async () => {
    const spec = (await (await fetch(`${server.url}/docs/json`)).json()) as { info: { description: string } }
    expect(spec.info.description).toMatch(/Authorize/)
    expect(spec.info.description).toMatch(/HMAC-SHA256/)
    expect(spec.info.description).toMatch(/Authorization: Bearer/)
  })
})
