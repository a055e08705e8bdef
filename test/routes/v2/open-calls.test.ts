import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../../helper.js'

describe('GET /v2/info', () => {
  it('says sign-in is off by default, unsigned (the v1 signature hook is not in the way)', async () => {
    const server = await build()
    try {
      const res = await fetch(`${server.url}/v2/info`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ version: 2, sign_in: false, bot_username: null, webapp_url: null, v1_enabled: true, max_wait_seconds: 30 })
    } finally {
      await server.close()
    }
  })

  it('tells a plugin what it needs to sign in', async () => {
    const server = await build({
      TELEGRAM_BOT_ID: '7342037359',
      TELEGRAM_BOT_USERNAME: '@WhatClientBot',
      WEBAPP_URL: 'https://wc.example.org/v2/webapp',
      V1_ENABLED: 'false',
      MAX_WAIT_SECONDS: '25'
    })
    try {
      expect(await (await fetch(`${server.url}/v2/info`)).json()).toEqual({
        version: 2, sign_in: true, bot_username: 'WhatClientBot', webapp_url: 'https://wc.example.org/v2/webapp', v1_enabled: false, max_wait_seconds: 25
      })
    } finally {
      await server.close()
    }
  })
})

describe('GET /v2/catalogue', () => {
  let server: TestServer
  beforeAll(async () => { server = await build() })
  afterAll(async () => server.close())

  it('answers the catalogue with a strong ETag', async () => {
    const res = await fetch(`${server.url}/v2/catalogue`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const etag = res.headers.get('etag') as string
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/)
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600')
    const text = await res.text()
    expect(etag).toBe(`"${createHash('sha256').update(text).digest('base64url')}"`)
    const body = JSON.parse(text) as { clients: Record<string, string>, unknown: string }
    expect(body.unknown).toBe('Unknown Client')
    expect(body.clients['com.radolyn.ayugram']).toBe('AyuGram')
    expect(body.clients['com.exteragram.messenger']).toBe('exteraGram')
    expect(Object.keys(body.clients).length).toBeGreaterThan(10)
    // The same every time (computed once).
    expect((await fetch(`${server.url}/v2/catalogue`)).headers.get('etag')).toBe(etag)
  })

  it('answers 304 with no body to a matching If-None-Match, and 200 otherwise', async () => {
    const etag = (await fetch(`${server.url}/v2/catalogue`)).headers.get('etag') as string
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await fetch(`${server.url}/v2/catalogue`, { headers: { 'if-none-match': header } })
      expect(res.status, header).toBe(304)
      expect(res.headers.get('etag')).toBe(etag)
      // No Content-Length of a body that is not there: Node's fetch would wait for
      // those bytes and hold the connection (and the client's process) until the
      // server's keep-alive timeout.
      expect(res.headers.get('content-length'), header).toBeNull()
      expect(await res.text()).toBe('')
    }
    for (const header of ['"other"', etag.slice(0, -2) + '"', 'W/"x"']) {
      const res = await fetch(`${server.url}/v2/catalogue`, { headers: { 'if-none-match': header } })
      expect(res.status, header).toBe(200)
      expect((await res.json() as { unknown: string }).unknown).toBe('Unknown Client')
    }
  })
})

describe('GET /v2/webapp', () => {
  let server: TestServer
  beforeAll(async () => { server = await build() })
  afterAll(async () => server.close())

  it('is a static page saying what WhatClient is, with no script and a strict CSP', async () => {
    const res = await fetch(`${server.url}/v2/webapp?tgWebAppStartParam=x`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const html = await res.text()
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).toContain('<h1>WhatClient</h1>')
    expect(html).not.toMatch(/<script|javascript:|\bon[a-z]+=|\bsrc=|\bhref=|https?:\/\//i)
    const csp = res.headers.get('content-security-policy') as string
    expect(csp.split('; ')).toEqual(expect.arrayContaining(["default-src 'none'", "base-uri 'none'", "form-action 'none'"]))
    expect(csp).not.toMatch(/unsafe|script-src|\*/)
    // The one inline style is allowed by its hash, and nothing else is.
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] as string
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
  })

  it('answers HEAD too', async () => {
    const res = await fetch(`${server.url}/v2/webapp`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
  })
})
