/**
 * Preloaded into a benchmark's server process (NODE_OPTIONS="--expose-gc
 * --import <this>"), for the held-polls scenario only: SIGWINCH runs a full
 * garbage collection, so that the heap read right after holds only what is
 * live. SIGWINCH, because its default is to be ignored: a server started
 * without this preload is not harmed by the signal. The benchmark's alone.
 */
process.on('SIGWINCH', () => {
  (globalThis as { gc?: () => void }).gc?.()
})
