/**
 * The timers of sleeping held polls: one Node timer for all of them, armed
 * for the earliest, over a binary heap of sleepers by due time. A Node timer
 * per poll would keep, for the whole wait, its Timeout object, the array of
 * its callback's arguments and its numbers (about 220 bytes); a sleeper here
 * keeps its due time, its place in the heap and one slot of the heap's array.
 * Process-wide (timers are): every relay's holds share it.
 */
import { performance } from 'node:perf_hooks'

/** What sleeps: `due` and `slot` belong to the heap (slot -1: not in it). */
export interface Sleeper {
  due: number
  slot: number
  /** Its time is up (called once it is out of the heap). */
  timeUp (): void
}

/** setTimeout's largest delay; longer (or non-finite) ones would fire at once, in a loop. */
export const MAX_TIMER_MS = 2 ** 31 - 1

const heap: Sleeper[] = []
let timer: NodeJS.Timeout | undefined
/** The due time the timer is armed for (Infinity: not armed). */
let armedFor = Infinity

/** Puts `sleeper` to sleep for `delayMs` (1 ms to MAX_TIMER_MS: the caller clamps). */
export function sleep (sleeper: Sleeper, delayMs: number): void {
  sleeper.due = performance.now() + delayMs
  sleeper.slot = heap.length
  heap.push(sleeper)
  up(sleeper.slot)
  if (sleeper.slot === 0) arm()
}

/** Takes `sleeper` out before its time (woken otherwise); nothing if it is not asleep. */
export function unsleep (sleeper: Sleeper): void {
  const slot = sleeper.slot
  if (slot < 0) return
  sleeper.slot = -1
  const last = heap.pop() as Sleeper
  if (slot < heap.length) {
    heap[slot] = last
    last.slot = slot
    down(slot)
    up(last.slot)
  }
  // The timer stays armed for a sleeper taken out: it finds nobody due and re-arms then.
  // Only an empty heap disarms it (nothing left for it to keep the process up for).
  if (heap.length === 0) disarm()
}

/** How many sleep now (tests). */
export function sleeping (): number {
  return heap.length
}

function fire (): void {
  timer = undefined
  armedFor = Infinity
  const now = performance.now()
  try {
    for (let first = heap[0]; first !== undefined && first.due <= now; first = heap[0]) {
      unsleep(first)
      first.timeUp()
    }
  } finally {
    // Re-armed even if one sleeper's timeUp threw: the others must still wake.
    arm()
  }
}

function arm (): void {
  const first = heap[0]
  if (first === undefined) return disarm()
  if (timer !== undefined && armedFor <= first.due) return
  clearTimeout(timer)
  armedFor = first.due
  timer = setTimeout(fire, Math.min(Math.max(1, Math.ceil(first.due - performance.now())), MAX_TIMER_MS))
}

function disarm (): void {
  clearTimeout(timer)
  timer = undefined
  armedFor = Infinity
}

function up (slot: number): void {
  const sleeper = heap[slot] as Sleeper
  while (slot > 0) {
    const parentSlot = (slot - 1) >> 1
    const parent = heap[parentSlot] as Sleeper
    if (parent.due <= sleeper.due) break
    heap[slot] = parent
    parent.slot = slot
    slot = parentSlot
  }
  heap[slot] = sleeper
  sleeper.slot = slot
}

function down (slot: number): void {
  const sleeper = heap[slot] as Sleeper
  const length = heap.length
  for (;;) {
    let child = 2 * slot + 1
    if (child >= length) break
    const right = child + 1
    if (right < length && (heap[right] as Sleeper).due < (heap[child] as Sleeper).due) child = right
    const smaller = heap[child] as Sleeper
    if (smaller.due >= sleeper.due) break
    heap[slot] = smaller
    smaller.slot = slot
    slot = child
  }
  heap[slot] = sleeper
  sleeper.slot = slot
}
