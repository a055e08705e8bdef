/**
 * What bench/instructions.ts reads from callgrind's files: each is checked, so
 * that a dump that did not happen or a line that changed shape stops the run
 * instead of printing a count of zero.
 */

/** The dump files of one run (`<label>.out.1-01`, `-02`, ...), in thread order: the first is the main thread. */
export function dumpedThreads (files: readonly string[], label: string): string[] {
  const prefix = `${label}.out.1-`
  return files.filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length))).sort()
}

/** The `totals:` line of one callgrind file (instructions, with the default event Ir). */
export function totalOf (text: string, file: string): number {
  const match = /^totals: (\d+)$/m.exec(text)
  if (match === null) throw new Error(`${file} has no totals line`)
  return Number(match[1])
}

/**
 * The inclusive count of the first function whose name contains `name`, in the
 * output of `callgrind_annotate --inclusive=yes --threshold=100` (sorted by that
 * count: the function itself comes before any wrapper named after it); 0 when
 * it never ran.
 */
export function inclusiveOf (annotated: string, name: string): number {
  const line = annotated.split('\n').find((l) => l.includes(name))
  if (line === undefined) return 0
  const match = /^\s*([\d,]+) /.exec(line)
  if (match === null) throw new Error(`unexpected callgrind_annotate line: ${line}`)
  return Number((match[1] as string).replaceAll(',', ''))
}
