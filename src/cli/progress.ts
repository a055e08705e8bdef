/**
 * Progress while a command waits: on a terminal one status line rewritten in
 * place every second (a live countdown), otherwise (a pipe, a log file) a plain
 * line now and then, so that a log shows progress without a line per second.
 * Notes (a retry, say) are lines that stay, printed above the status line.
 */
import { printable } from './output.js'

export interface Progress {
  /** A line that stays. */
  note: (text: string) => void
  /** Ends the status line (on a terminal, erases it) and stops the timer. */
  stop: () => void
}

export interface ProgressOptions {
  /** The status as it is now; called at each tick. */
  status: () => string
  /** How often a plain line is printed when the stream is not a terminal. */
  plainEveryMs: number
}

/** Carriage return and "erase the whole line": the status line starts over. */
const REWRITE = '\r\x1b[2K'

/** Progress on `stream`, or none at all (for --json) when `stream` is null. */
export function startProgress (stream: NodeJS.WriteStream | null, options: ProgressOptions): Progress {
  if (stream === null) return { note: () => {}, stop: () => {} }
  const line = (): string => printable(options.status())
  let stopped = false
  if (stream.isTTY === true) {
    const draw = (): void => { stream.write(REWRITE + line()) }
    const timer = setInterval(draw, 1000)
    timer.unref()
    draw()
    return {
      note: (text) => { stream.write(REWRITE + printable(text) + '\n'); if (!stopped) draw() },
      stop: () => {
        if (stopped) return
        stopped = true
        clearInterval(timer)
        stream.write(REWRITE)
      }
    }
  }
  const timer = setInterval(() => stream.write(line() + '\n'), options.plainEveryMs)
  timer.unref()
  stream.write(line() + '\n')
  return {
    note: (text) => { stream.write(printable(text) + '\n') },
    stop: () => { stopped = true; clearInterval(timer) }
  }
}

/** Seconds as m:ss (never negative). */
export function clock (ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

/** The local time of day of `epochMs`, HH:MM:SS. */
export function timeOfDay (epochMs: number): string {
  return new Date(epochMs).toTimeString().slice(0, 8)
}
