/**
 * What Node's HTTP server costs per open connection before any request, in
 * the two native objects it makes for each: the HTTP parser (node:http's
 * HTTPParser, one per connection) and the TCP handle. The held-poll target
 * (≤ 8 KB of RSS per held poll, BENCHMARKS.md §24) is measured against this:
 * whatever a server on node:http does, each held poll keeps one of each.
 *
 * It makes `--count` of each (20,000 by default) and reads RSS after a full
 * GC, so the figure is the native object plus its JS wrapper, as a held
 * connection keeps them. HTTPParser comes from `_http_common`, Node's own
 * module behind node:http (not a public API, but the very constructor the
 * server calls).
 *
 *   npm run build && node --expose-gc dist/bench/parser-memory.js [--count N]
 */
import { createRequire } from 'node:module'
import { flagValue } from './lib/script.js'

const require = createRequire(import.meta.url)
const { HTTPParser } = require('_http_common') as { HTTPParser: new () => object }
const { TCP, constants } = (process as unknown as { binding: (name: string) => { TCP: new (type: number) => object, constants: { SOCKET: number } } }).binding('tcp_wrap')

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const count = Number(flagValue(process.argv, '--count') ?? 20_000)

/** RSS bytes added per object made by `make`, the objects kept alive. */
function bytesPer (make: () => object): number {
  const kept: object[] = []
  gc?.()
  const before = process.memoryUsage().rss
  for (let i = 0; i < count; i++) kept.push(make())
  gc?.()
  const after = process.memoryUsage().rss
  if (kept.length !== count) throw new Error('lost objects')
  return Math.round((after - before) / count)
}

// Each measured in turn, in one process: what the first leaves behind is reused by none of the later ones.
const tcp = bytesPer(() => new TCP(constants.SOCKET))
const parser = bytesPer(() => new HTTPParser())
const plain = bytesPer(() => ({ a: 1, b: 2 }))
process.stdout.write(`parser-memory: Node ${process.version}, ${count} of each; RSS bytes per object: HTTPParser ${parser}, TCP handle ${tcp}, a two-field object ${plain}\n`)
