/**
 * How long the SDK's sealing takes in this Node (packages/sdk/src/sealing.ts): a key
 * pair, and sealing and opening one 256-byte answer. Not part of `npm run
 * bench` (it needs no server). Run after `npm run build`:
 *   node dist/bench/sealing.js
 * Each figure is the best of 15 rounds of 50 calls after a warm-up, so other
 * load on the machine inflates it less; the median round is shown beside it.
 */
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { makeKeyPair, openAnswer, sealAnswer } from 'whatclient-sdk'

const ROUNDS = 15
const CALLS = 50
const REQUEST_ID = '5f0c2a2e-3d0f-4e6b-9a43-2b1c8d7e6f50'
const NAME = 'org.telegram.messenger'

async function measure (call: () => Promise<unknown>): Promise<{ best: number, median: number }> {
  for (let i = 0; i < CALLS; i++) await call() // warm-up: let the JIT settle
  const perCall: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now()
    for (let i = 0; i < CALLS; i++) await call()
    perCall.push((performance.now() - start) * 1000 / CALLS)
  }
  perCall.sort((a, b) => a - b)
  return { best: perCall[0]!, median: perCall[Math.floor(ROUNDS / 2)]! }
}

const { publicKey, privateKey } = await makeKeyPair()
const sealed = await sealAnswer(publicKey, REQUEST_ID, NAME)
const cases: Array<[string, () => Promise<unknown>]> = [
  ['makeKeyPair', makeKeyPair],
  ['sealAnswer (256-byte answer)', async () => sealAnswer(publicKey, REQUEST_ID, NAME)],
  ['openAnswer (256-byte answer)', async () => openAnswer(privateKey, sealed, REQUEST_ID)]
]

console.log(`Node ${process.version} on ${process.arch}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores)`)
for (const [label, call] of cases) {
  const { best, median } = await measure(call)
  console.log(`${label.padEnd(30)} ${best.toFixed(0).padStart(6)} µs best, ${median.toFixed(0).padStart(6)} µs median`)
}
