/**
 * What the benchmark scripts (run.ts, instructions.ts, tick-shape.ts) share as
 * commands: reading a flag's value, and where a run's results file goes.
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The value after `name` in `args` (`--before DIR` → DIR), or undefined when the flag is absent. */
export function flagValue (args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

/**
 * A new results file's path: bench/results/<time>-node<major><suffix>.json (the
 * folder made if missing), the name BENCHMARKS.md cites runs by.
 */
export function resultsFile (suffix = ''): string {
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  return `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}-node${process.versions.node.split('.')[0]}${suffix}.json`
}
