/**
 * The printed summary: one row per measured thing, with the ceiling and the
 * before and after builds side by side where they exist, as a Markdown table
 * (readable in a terminal, pasted as is into BENCHMARKS.md).
 */
export interface Row {
  scenario: string
  measure: string
  ceiling?: string
  before?: string
  after?: string
}

export class Table {
  readonly rows: Row[] = []

  add (row: Row): void {
    this.rows.push(row)
  }

  /** Columns without any value are left out (no ceiling column without a ceiling row, no before without --before). */
  render (title: string): string {
    const columns: Array<{ key: keyof Row, head: string }> = [
      { key: 'scenario', head: 'scenario' },
      { key: 'measure', head: 'measure' },
      { key: 'ceiling', head: 'node:http ceiling' },
      { key: 'before', head: 'before' },
      { key: 'after', head: 'after' }
    ]
    const used = columns.filter((c) => this.rows.some((r) => (r[c.key] ?? '') !== ''))
    const cells = [used.map((c) => c.head), ...this.rows.map((r) => used.map((c) => r[c.key] ?? ''))]
    const widths = used.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] as string).length)))
    const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
    return [`### ${title}`, '', line(cells[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
  }
}
