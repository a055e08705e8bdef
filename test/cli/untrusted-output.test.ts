import { afterEach, describe, expect, it } from 'vitest'
import { MAX_SHOWN, jsonLine, printable } from '../../src/cli/output.js'
import { runCli } from '../process-helper.js'
import { standIn, type StandIn } from './stand-in.js'

// What a hostile server put in client_name in the field: a window title, a line
// rewrite (CR, erase line) and a forged answer, plus C1 controls and a bidi override.
const HOSTILE_NAME = '\x1b]0;pwned\x07\r\x1b[2KTelegram\x9b31m\x85\u202egnp.exe\u2066\u200b\u2028'
const HOSTILE_PACKAGE = 'com.\x1b[31mred\x7f'
const HOSTILE_DETAIL = 'Invalid signature.\x1b]2;title\x07\x1b[1A\u202e'
// Anything that could steer a terminal: C0 except the final newline, DEL, C1, bidi, separators, zero-width.
const STEERING = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

let server: StandIn | undefined
afterEach(async () => { await server?.close(); server = undefined })

async function hostileServer (): Promise<StandIn> {
  return standIn((method, path) => {
    if (method === 'POST' && path === '/requestClient') return { body: { request_id: 'r1' } }
    if (path.startsWith('/getRequestResult/')) return { body: { status: 'completed', client_name: HOSTILE_NAME, package_name: HOSTILE_PACKAGE } }
    return { status: 404, body: { detail: 'Not Found' } }
  })
}

describe('what a server sends reaches the terminal escaped, never obeyed', () => {
  it('ask shows a hostile client name with its control characters made visible', async () => {
    server = await hostileServer()
    const asking = runCli(['ask', '2', '--as', '1'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'k' })
    expect(await asking.exited).toBe(0)
    const out = asking.stdout()
    expect(out).not.toMatch(STEERING)
    expect(out.split('\n')).toHaveLength(2)
    expect(out).toBe('2 uses \\x1b]0;pwned\\x07\\x0d\\x1b[2KTelegram\\x9b31m\\x85\\u{202e}gnp.exe\\u{2066}\\u{200b}\\u{2028} (com.\\x1b[31mred\\x7f)\n')
    expect(asking.stderr()).not.toMatch(STEERING)
  })

  it('ask --json keeps the exact strings in valid JSON, with nothing raw that steers a terminal', async () => {
    server = await hostileServer()
    const asking = runCli(['ask', '2', '--as', '1', '--json'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'k' })
    expect(await asking.exited).toBe(0)
    expect(asking.stdout()).not.toMatch(STEERING)
    expect(JSON.parse(asking.stdout())).toEqual({ status: 'completed', target: 2, client_name: HOSTILE_NAME, package_name: HOSTILE_PACKAGE })
  })

  it('a refusal shows the server detail escaped, in text and in JSON', async () => {
    server = await standIn(() => ({ status: 403, body: { detail: HOSTILE_DETAIL } }))
    const text = runCli(['ask', '2', '--as', '1'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'k' })
    expect(await text.exited).toBe(1)
    expect(text.stderr()).toMatch(/Invalid signature\.\\x1b\]2;title\\x07\\x1b\[1A\\u\{202e\}/)
    expect(text.stderr()).not.toMatch(STEERING)

    const json = runCli(['ask', '2', '--as', '1', '--json'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'k' })
    expect(await json.exited).toBe(1)
    expect(json.stdout()).not.toMatch(STEERING)
    expect(JSON.parse(json.stdout()).error).toContain(HOSTILE_DETAIL)
  })

  it('a client name that is not a string, or far too long, does not break ask', async () => {
    const huge = 'A'.repeat(100_000)
    for (const [name, shown] of [[{ evil: true }, '2 uses Unknown Client\n'], [huge, `2 uses ${'A'.repeat(MAX_SHOWN)}... (${100_000 - MAX_SHOWN} more characters)\n`]] as const) {
      server = await standIn((method, path) => method === 'POST'
        ? { body: { request_id: 'r1' } }
        : { body: path.startsWith('/getRequestResult/') ? { status: 'completed', client_name: name } : {} })
      const asking = runCli(['ask', '2', '--as', '1'], { WHATCLIENT_URL: server.url, WHATCLIENT_KEY: 'k' })
      expect(await asking.exited).toBe(0)
      expect(asking.stdout()).toBe(shown)
      await server.close()
      server = undefined
    }
  })
})

describe('printable and jsonLine', () => {
  it('leave ordinary text, accents, scripts and emoji alone', () => {
    for (const text of ['exteraGram', 'Телеграм', 'テレグラム', 'AyuGram 🐱', "a fork with Telegram's app id (x, y, ...)"]) {
      expect(printable(text)).toBe(text)
      expect(JSON.parse(jsonLine({ text })).text).toBe(text)
    }
  })

  it('show invisible characters, even a joiner, so that two names that look alike are told apart', () => {
    expect(printable('extera\u200dGram')).toBe('extera\\u{200d}Gram')
  })

  it('escape lone surrogates and characters past the Basic Multilingual Plane that are format characters', () => {
    expect(printable('a\ud800b')).toBe('a\\u{d800}b')
    expect(printable('tag\u{e0041}')).toBe('tag\\u{e0041}')
    const line = jsonLine({ text: 'tag\u{e0041}\ud800' })
    expect(line).toBe('{"text":"tag\\udb40\\udc41\\ud800"}\n')
    expect(JSON.parse(line).text).toBe('tag\u{e0041}\ud800')
  })
})
