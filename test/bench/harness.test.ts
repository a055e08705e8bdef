/**
 * The benchmark harness's helpers (bench/lib): what it reads from Redis's
 * INFO and a Prometheus exposition, how it divides counts, the table it prints,
 * what it reads from callgrind's files, that its test sign-in settings and
 * init data are ones the server accepts, its raw HTTP client, and the bare
 * node:http ceilings it measures the server against.
 */
import { describe, expect, it } from 'vitest'
import { dumpedThreads, inclusiveOf, totalOf } from '../../bench/lib/callgrind.js'
import { median, pairedExcess } from '../../bench/lib/load.js'
import { inTurn, metricValue } from '../../bench/lib/processes.js'
import { infoField, parseCommandStats, redisUse, type RedisSnapshot } from '../../bench/lib/redis-stats.js'
import { Table } from '../../bench/lib/table.js'
import { BOT_TOKEN, initData } from '../../bench/lib/v2.js'
import { loadIdentitySettings } from '../../src/config.js'
import { InitDataVerifier } from '../../src/identity/init-data.js'

const STATS = [
  '# Commandstats',
  'cmdstat_evalsha:calls=10,usec=500,usec_per_call=50.00,rejected_calls=0,failed_calls=0',
  'cmdstat_zrange:calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
  'cmdstat_client|list:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0',
  'cmdstat_info:calls=3,usec=30,usec_per_call=10.00,rejected_calls=0,failed_calls=0',
  ''
].join('\r\n')

describe('bench harness helpers', () => {
  it('alternates which build a round measures first, so that over two rounds each is first once', () => {
    const builds = ['before', 'after']
    const rounds = [0, 1, 2, 3].map((round) => inTurn(builds, round))
    expect(rounds).toEqual([['before', 'after'], ['after', 'before'], ['before', 'after'], ['after', 'before']])
    expect(builds).toEqual(['before', 'after'])
    expect(inTurn(['after'], 1)).toEqual(['after'])
  })

  it("reads callgrind's dumps: the threads of one dump in order, their totals, one function's inclusive count", () => {
    const files = ['v1-1.out', 'v1-1.out-01', 'v1-1.out.1-02', 'v1-1.out.1-01', 'v1-1.out.1-10', 'v1-11.out.1-01', 'v1-1.out.1-01.bak']
    expect(dumpedThreads(files, 'v1-1')).toEqual(['v1-1.out.1-01', 'v1-1.out.1-02', 'v1-1.out.1-10'])
    expect(totalOf('events: Ir\nsummary: 5\ntotals: 813903984\n', 'f')).toBe(813903984)
    expect(() => totalOf('events: Ir\n', 'f')).toThrow('f has no totals line')
    const annotated = [
      '--------------------------------------------------------------------------------',
      '1,408,362,319 (100.0%)  PROGRAM TOTALS',
      '  343,181,489 (24.37%)  ???:v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(int, unsigned long*, v8::internal::Isolate*) [/usr/bin/node]',
      '  343,000,000 (24.30%)  ???:v8::internal::__RT_impl_Runtime_DefineKeyedOwnPropertyInLiteral(v8::internal::Arguments<(v8::internal::ArgumentsType)0>, v8::internal::Isolate*) [/usr/bin/node]'
    ].join('\n')
    expect(inclusiveOf(annotated, 'Runtime_DefineKeyedOwnPropertyInLiteral(')).toBe(343181489)
    expect(inclusiveOf(annotated, 'Runtime_StackGuard(')).toBe(0)
    expect(() => inclusiveOf('n/a Runtime_X(', 'Runtime_X(')).toThrow('unexpected callgrind_annotate line')
  })

  it("takes the median of the second's excess over the first, pair by pair, and counts the pairs it exceeds", () => {
    // The pairs drift (each on a slower VM than the last); the excess within each does not.
    expect(pairedExcess([10, 20, 40], [11, 22, 44])).toEqual({ median: expect.closeTo(0.1, 10), above: 3, pairs: 3 })
    expect(pairedExcess([10, 10, 10, 10], [9, 11, 12, 10])).toEqual({ median: expect.closeTo(0.05, 10), above: 2, pairs: 4 })
    expect(pairedExcess([10, 10], [12])).toEqual({ median: expect.closeTo(0.2, 10), above: 1, pairs: 1 })
    expect(pairedExcess([], []).median).toBeNaN()
  })

  it('takes the median of the finite values, the mean of the middle two of an even count rounded only when asked', () => {
    expect(median([3, NaN, 1, 2])).toBe(2)
    expect(median([1, 2.125, 4, Infinity])).toBe(2.125)
    expect(median([1, 2, 2.125, 4])).toBe(2.0625)
    expect(median([1, 2, 2.125, 4], 2)).toBe(2.06)
    expect(median([NaN])).toBeNaN()
  })

  it('reads INFO commandstats and INFO fields', () => {
    expect(parseCommandStats(STATS)).toEqual({
      EVALSHA: { calls: 10, usec: 500 },
      ZRANGE: { calls: 10, usec: 20 },
      'CLIENT|LIST': { calls: 1, usec: 5 },
      INFO: { calls: 3, usec: 30 }
    })
    expect(infoField('# Server\r\nredis_version:7.0.15\r\nprocess_id:2216\r\n', 'process_id')).toBe(2216)
    expect(infoField('used_cpu_user:2.469168\r\n', 'used_cpu_user')).toBe(2.469168)
    expect(infoField('used_cpu_user:2.4\r\n', 'used_cpu_sys')).toBeUndefined()
  })

  it('divides what Redis did in a window by the units, leaving out its own INFO calls', () => {
    const before: RedisSnapshot = { commands: { EVALSHA: { calls: 10, usec: 500 }, ZRANGE: { calls: 10, usec: 20 }, INFO: { calls: 3, usec: 30 } }, cpuUs: 1_000, connectedClients: 3 }
    const after: RedisSnapshot = { commands: { EVALSHA: { calls: 30, usec: 1500 }, ZRANGE: { calls: 30, usec: 60 }, PUBLISH: { calls: 5, usec: 10 }, INFO: { calls: 7, usec: 70 } }, cpuUs: 3_000, connectedClients: 3 }
    const use = redisUse(before, after, 10)
    expect(use.commandsPerUnit).toBe(4.5)
    expect(use.scriptsPerUnit).toBe(2)
    expect(use.redisCpuUsPerUnit).toBe(200)
    expect(Object.keys(use.byCommand)).toEqual(['EVALSHA', 'ZRANGE', 'PUBLISH'])
    expect(use.byCommand.EVALSHA).toEqual({ calls: 20, perUnit: 2, usecPerUnit: 100 })
  })

  it('reads a gauge from a Prometheus exposition, with or without labels', () => {
    const text = [
      '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      'nodejs_heap_size_used_bytes 12345678',
      'nodejs_heap_size_used_bytes_total 1',
      'nodejs_external_memory_bytes{instance="a"} 42'
    ].join('\n')
    expect(metricValue(text, 'nodejs_heap_size_used_bytes')).toBe(12345678)
    expect(metricValue(text, 'nodejs_external_memory_bytes')).toBe(42)
    expect(metricValue(text, 'nodejs_heap_size_total_bytes')).toBeUndefined()
  })

  it('prints a Markdown table without the columns nobody filled', () => {
    const table = new Table()
    table.add({ scenario: '1', measure: 'req/s', ceiling: '10', after: '7' })
    table.add({ scenario: '1', measure: 'ratio', after: '0.7' })
    expect(table.render('title')).toBe([
      '### title',
      '',
      '| scenario | measure | node:http ceiling | after |',
      '|----------|---------|-------------------|-------|',
      '| 1        | req/s   | 10                | 7     |',
      '| 1        | ratio   |                   | 0.7   |'
    ].join('\n'))
  })

  it("signs in with a bot token and init data the server's own checks accept", () => {
    expect(loadIdentitySettings({ TELEGRAM_BOT_TOKEN: BOT_TOKEN }).telegramBotToken).toBe(BOT_TOKEN)
    const verifier = new InitDataVerifier({ botToken: BOT_TOKEN, maxAgeSeconds: 300 })
    expect(verifier.verify(initData(424243)).userId).toBe(424243)
    // Distinct each time for distinct users: init data is single use.
    expect(initData(1)).not.toBe(initData(2))
  })
})

describe('the Redis round-trip counter', () => {
  it('counts commands by name across any chunking, binary arguments included', async () => {
    const { RespCommandCounter } = await import('../../bench/lib/redis-counter.js')
    const resp = (...args: Array<string | Buffer>): Buffer => Buffer.concat([
      Buffer.from(`*${args.length}\r\n`),
      ...args.flatMap((a) => { const b = Buffer.from(a); return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')] })
    ])
    const stream = Buffer.concat([
      resp('EVALSHA', 'abc', '1', 'key'),
      resp('evalsha', 'abc', '0'),
      // An argument that looks like RESP must not count as a command.
      resp('SET', 'k', '\r\n*1\r\n$4\r\nPING\r\n', 'NX'),
      resp('PING'),
      Buffer.from('PING\r\n')
    ])
    for (const size of [1, 3, 7, stream.length]) {
      const counter = new RespCommandCounter()
      for (let i = 0; i < stream.length; i += size) counter.feed(stream.subarray(i, i + size))
      expect(counter.take()).toEqual({ EVALSHA: 2, SET: 1, PING: 2 })
      expect(counter.take()).toEqual({})
    }
  })
})

describe('the flow driver\'s raw keep-alive client', () => {
  it('sends requests a node:http server reads, one socket for many, and reconnects after Connection: close', async () => {
    const { createServer } = await import('node:http')
    const { RawConnection } = await import('../../bench/lib/raw-http.js')
    const seen: Array<{ method: string, url: string, signature: string | undefined, type: string | undefined, body: string, socket: number }> = []
    const sockets: unknown[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => { body += chunk })
      req.on('end', () => {
        if (!sockets.includes(req.socket)) sockets.push(req.socket)
        seen.push({ method: req.method as string, url: req.url as string, signature: req.headers['x-signature'] as string | undefined, type: req.headers['content-type'], body, socket: sockets.indexOf(req.socket) })
        if (req.url === '/close') res.setHeader('connection', 'close')
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ ok: req.url, écho: body }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    const conn = new RawConnection('127.0.0.1', port)
    try {
      const host = `host: 127.0.0.1:${port}\r\n`
      expect(await conn.request(`GET /a?wait=1 HTTP/1.1\r\n${host}x-signature: abc\r\n`)).toEqual({ status: 200, body: JSON.stringify({ ok: '/a?wait=1', écho: '' }) })
      const body = '{"x": "é"}'
      expect(await conn.request(`POST /b HTTP/1.1\r\n${host}content-type: application/json\r\n`, body)).toEqual({ status: 200, body: JSON.stringify({ ok: '/b', écho: body }) })
      await conn.request(`GET /close HTTP/1.1\r\n${host}`)
      expect((await conn.request(`GET /c HTTP/1.1\r\n${host}`)).body).toContain('/c')
      expect(seen.map((s) => [s.method, s.url, s.socket])).toEqual([['GET', '/a?wait=1', 0], ['POST', '/b', 0], ['GET', '/close', 0], ['GET', '/c', 1]])
      expect(seen[0]?.signature).toBe('abc')
      expect(seen[1]?.type).toBe('application/json')
    } finally {
      conn.close()
      await new Promise((resolve) => server.close(resolve))
    }
    await expect(conn.request('GET / HTTP/1.1\r\n')).rejects.toThrow('closed')
  })
})

describe('the full flow\'s open-loop schedule', () => {
  it('says when each ask is due, the inverse of how many are due by a time, through the ramp and after', async () => {
    const { openLoopSchedule } = await import('../../bench/scenarios/full-flow.js')
    for (const [rate, ramp] of [[1000, 3], [200, 0.5], [1000, 0]] as const) {
      const { scheduled, dueAt } = openLoopSchedule(rate, ramp)
      for (const k of [1, 2, 10, 499, 1500, 1501, 5000]) {
        const at = dueAt(k) / 1000
        expect(scheduled(at)).toBeCloseTo(k, 6)
        // Not due a moment before.
        expect(scheduled(at - 1e-6)).toBeLessThan(k)
      }
    }
  })
})

describe('the bare node:http ceilings', () => {
  // Started as the harness starts them: the built files (npm test builds first), on a free port.
  const load = async () => {
    const processes = await import('../../dist/bench/lib/processes.js')
    const { sign } = await import('../../dist/bench/lib/load.js')
    return { ...processes, sign }
  }

  it('the idle ceiling answers a signed poll with the empty list and refuses a bad signature', async () => {
    const { startCeiling, sign } = await load()
    const server = await startCeiling()
    try {
      const ok = await fetch(`${server.url}/getTasks/7`, { headers: { 'x-signature': sign('/getTasks/7') } })
      expect([ok.status, await ok.text()]).toEqual([200, '{"tasks":[]}'])
      const forged = await fetch(`${server.url}/getTasks/7`, { headers: { 'x-signature': sign('/getTasks/8') } })
      expect(forged.status).toBe(403)
      const badPath = await fetch(`${server.url}/getTasks/%E0`, { headers: { 'x-signature': sign('/getTasks/%E0') } })
      expect(badPath.status).toBe(403)
    } finally {
      await server.stop()
    }
  })

  it('the held-polls ceiling holds a signed poll until its user is asked about, forgets one whose client left, and reports its heap', async () => {
    const { startHeldCeiling, heapSample, sign } = await load()
    const server = await startHeldCeiling()
    const client = new AbortController()
    /** What the ceiling reports: heap figures, how many polls it holds, whether SIGWINCH can collect garbage. */
    const memory = async () => await (await fetch(server.memoryUrl as string)).json() as { held: number, collects: boolean }
    /** Until the ceiling holds `count` polls (each look is a request: no clock involved). */
    const holding = async (count: number): Promise<void> => {
      for (let i = 0; i < 1000 && (await memory()).held !== count; i++) await new Promise((resolve) => setImmediate(resolve))
      expect((await memory()).held).toBe(count)
    }
    const poll = (user: number, query: string, signal?: AbortSignal) =>
      fetch(`${server.url}/getTasks/${user}${query}`, { headers: { 'x-signature': sign(`/getTasks/${user}`) }, signal })
    try {
      expect((await memory()).collects).toBe(true)
      // Without a wait (or with wait=0) a poll is answered at once, empty.
      for (const query of ['', '?wait=0']) {
        const now = await poll(7, query)
        expect([now.status, await now.text()]).toEqual([200, '{"tasks":[]}'])
      }
      const forged = await fetch(`${server.url}/getTasks/7?wait=120`, { headers: { 'x-signature': sign('/getTasks/8') } })
      expect(forged.status).toBe(403)
      const badPath = await fetch(`${server.url}/getTasks/%E0?wait=120`, { headers: { 'x-signature': sign('/getTasks/%E0') } })
      expect(badPath.status).toBe(403)

      const held = poll(7, '?wait=120', client.signal)
      held.catch(() => {}) // awaited below; the finally's abort must not leave it unhandled
      await holding(1)
      // Another user's ask does not answer it; its own does, with that ask's request id
      // (a poll answered at once would carry no task, one answered by the other ask its id).
      const other = await fetch(`${server.url}/requestClient`, { method: 'POST', body: '{"requester_id": 1, "target_id": 8}' })
      expect(other.status).toBe(200)
      await other.text()
      const own = await fetch(`${server.url}/requestClient`, { method: 'POST', body: '{"requester_id": 1, "target_id": 7}' })
      const { request_id: requestId } = await own.json() as { request_id: string }
      const reply = await held
      expect([reply.status, await reply.json()]).toEqual([200, { tasks: [requestId] }])
      await holding(0)

      // A client that leaves takes its hold with it.
      const leaving = poll(9, '?wait=120', client.signal)
      await holding(1)
      client.abort()
      await expect(leaving).rejects.toThrow()
      await holding(0)

      const heap = await heapSample(server)
      expect(heap?.heapUsed).toBeGreaterThan(0)
      expect(heap?.heapTotal).toBeGreaterThanOrEqual(heap?.heapUsed as number)
      expect(heap?.external).toBeGreaterThan(0)
    } finally {
      client.abort()
      await server.stop()
    }
  })
})
