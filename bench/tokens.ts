/**
 * Microseconds per session-token verify and issue (src/identity/tokens.ts),
 * beside the v1 signature check that a v1 poll makes instead of the verify,
 * and per init-data check in each mode: `npm run build && node dist/bench/tokens.js`.
 */
import { createHmac, createSecretKey, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { HmacKey } from '../src/crypto/hmac.js'
import { verify } from '../src/crypto/signature.js'
import { InitDataVerifier, signInitData } from '../src/identity/init-data.js'
import { SessionTokens } from '../src/identity/tokens.js'
import { median, sign } from './lib/load.js'
import { BENCH_KEY, inTurn } from './lib/processes.js'

function perCall (label: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn()
  const rounds: number[] = []
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn()
    rounds.push(Number(process.hrtime.bigint() - start) / n / 1000)
  }
  rounds.sort((a, b) => a - b)
  console.log(`${label.padEnd(34)} median ${rounds[2]?.toFixed(2)} µs (min ${rounds[0]?.toFixed(2)}, max ${rounds[4]?.toFixed(2)})`)
}

/**
 * Like perCall for two calls, measured in the same rounds, in turn (each goes first in every
 * other round, so neither always pays the other's garbage): both medians of 9 rounds, and
 * the median and range of what the second cost more within a round.
 */
function sideBySide (labels: [string, string], n: number, fns: [() => unknown, () => unknown]): void {
  for (const fn of fns) for (let i = 0; i < 10_000; i++) fn()
  const times: [number[], number[]] = [[], []]
  const extra: number[] = []
  for (let r = 0; r < 9; r++) {
    const round: number[] = []
    for (const k of inTurn([0, 1], r)) {
      const fn = fns[k] as () => unknown
      const start = process.hrtime.bigint()
      for (let i = 0; i < n; i++) fn()
      round[k] = Number(process.hrtime.bigint() - start) / n / 1000
      times[k as 0 | 1].push(round[k] as number)
    }
    extra.push((round[1] as number) - (round[0] as number))
  }
  labels.forEach((label, k) => console.log(`${label.padEnd(34)} median ${median(times[k as 0 | 1]).toFixed(2)} µs`))
  console.log(`${`${labels[1]}, more by`.padEnd(34)} median ${median(extra).toFixed(2)} µs (min ${Math.min(...extra).toFixed(2)}, max ${Math.max(...extra).toFixed(2)})`)
}

const tokens = new SessionTokens({ secret: randomBytes(32), ttlSeconds: 86_400 })
const { token } = tokens.issue(123_456_789_012)
console.log(`token: ${token.length} characters`)
// What a v1 idle poll checks (its signature) against what a v2 one checks (its token): the
// rest of the two polls is much alike (BENCHMARKS.md §12).
const v1Key = new HmacKey(BENCH_KEY)
const v1Path = '/getTasks/123456789012'
const v1Signature = sign(v1Path)
sideBySide(['v1 signature check', 'token verify'], 200_000, [() => verify(v1Key, v1Path, v1Signature), () => tokens.verify(token)])
// The same check as before the HmacKey: createHmac with the key as a KeyObject, a native object per call.
const v1KeyObject = createSecretKey(Buffer.from(BENCH_KEY))
const createHmacCheck = (material: string, signature: string): boolean =>
  /^[0-9a-fA-F]{64}$/.test(signature) && timingSafeEqual(createHmac('sha256', v1KeyObject).update(material).digest(), Buffer.from(signature, 'hex'))
sideBySide(['v1 check, createHmac', 'v1 check, HmacKey'], 200_000, [() => createHmacCheck(v1Path, v1Signature), () => verify(v1Key, v1Path, v1Signature)])
perCall('token issue', 200_000, () => tokens.issue(123_456_789_012))

const botToken = '7000000001:AAbench-token'
const hash = new InitDataVerifier({ botToken, maxAgeSeconds: 300 })
const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const signature = new InitDataVerifier({ botId: 7000000001, maxAgeSeconds: 300, publicKey })
const data = signInitData({ botToken, user: { id: 123456789, first_name: 'Bench', username: 'bench' }, fields: { chat_type: 'sender', chat_instance: '8134722200314281151' }, ed25519: { privateKey, botId: 7000000001 } })
perCall('init data check (hash)', 50_000, () => hash.verify(data))
perCall('init data check (signature)', 10_000, () => signature.verify(data))
