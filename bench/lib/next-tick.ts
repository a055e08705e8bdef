/**
 * Nanoseconds per `process.nextTick` call in this process: the best of 7 rounds
 * of 20,000 calls (the callbacks run after it returns). Shared by the tick-shape
 * benchmark's children and its server probe.
 */
export function nsPerNextTick (): number {
  const noop = (): void => {}
  let best = Infinity
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < 20_000; i++) process.nextTick(noop)
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 20_000)
  }
  return Math.round(best)
}
