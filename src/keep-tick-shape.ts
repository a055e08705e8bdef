/**
 * Keeps `process.nextTick` on V8's fast path for the life of the process, by
 * holding one of Node's tick objects. The entry points (cli/index.ts,
 * server.ts) import it first, so that it runs before the modules they import
 * are evaluated (ESM parses the whole graph first, but evaluates it in import
 * order); until its tick has run, that tick waiting in the queue does the
 * holding.
 *
 * Why: Node builds each tick object with an object literal whose first keys
 * are computed (async-id symbols). V8 keeps the hidden classes ("maps") that
 * literal walks through only while something uses them, and the feedback that
 * lets optimised code build the object inline holds them weakly. Full garbage
 * collections while no tick object is alive (the server's start makes two,
 * while it evaluates its modules) can free those maps; the next tick object
 * gets new ones, the literal's feedback goes megamorphic, and from then on
 * every `nextTick` goes through V8's runtime for each of its keys. Measured on
 * Node 20.20.2 and 24.21.0, `nextTick` then costs 300-820 ns instead of
 * 50-270 (`node dist/bench/tick-shape.js`); a request through `node:http`
 * makes nine of them, and on Node 20 the idle task poll cost about a fifth
 * more CPU (BENCHMARKS.md §15). One live tick object keeps the maps, so the
 * feedback stays good.
 *
 * The object held is Node's own (async_hooks' `executionAsyncResource()` inside
 * a tick callback returns it): its callback is the one below, nothing of any
 * request. Node 24 also puts the async context current when the tick was made
 * on it: imported at the top of an entry module that is none, but imported
 * inside an AsyncLocalStorage context it would keep that context's store. When
 * a future Node builds ticks differently, this holds one small object and does
 * nothing else.
 */
import { executionAsyncResource } from 'node:async_hooks'

let kept: object | undefined

process.nextTick(() => { kept = executionAsyncResource() })

/** The tick object held (undefined until the first ticks have run). */
export function keptTick (): object | undefined {
  return kept
}
