/**
 * Keeps `process.nextTick` fast for the life of the process, by holding one
 * of Node's tick objects. Imported first by the entry points (cli/index.ts,
 * server.ts), so that it runs before the modules they load.
 *
 * Why: Node builds each tick object with an object literal whose first keys
 * are computed (two async-id symbols). V8 keeps the hidden classes ("maps")
 * that literal walks through only while something uses them, and the feedback
 * that lets optimised code build the object without calling into the runtime
 * names them weakly. A few full garbage collections with no tick queued (a
 * server starting up, or idle: V8 collects more when idle) free those maps;
 * the next tick object gets new ones, the feedback goes megamorphic, and from
 * then on every `nextTick` goes through the runtime for each of its four keys.
 * That is for good: measured on Node 20.20.2 and 24.21.0, `nextTick` then costs
 * 300-1,350 ns instead of 50-120, and a request through `node:http` makes
 * about nine of them (the idle task poll's CPU went up by a fifth; BENCHMARKS.md
 * §15). One live tick object keeps the maps, so the feedback stays good.
 *
 * The object held is Node's own (async_hooks' `executionAsyncResource()` inside
 * a tick callback returns it): its callback is the empty one below, nothing of
 * any request. When a future Node builds ticks differently, this holds one
 * small object and does nothing else.
 */
import { executionAsyncResource } from 'node:async_hooks'

let kept: object | undefined

process.nextTick(() => { kept = executionAsyncResource() })

/** The tick object held (undefined until the first ticks have run). */
export function keptTick (): object | undefined {
  return kept
}
