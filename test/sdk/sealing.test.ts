/**
 * Sealed answers in the SDK (packages/sdk/src/sealing.ts): the HPKE library as
 * configured against RFC 9180, the wrapper's refusals (the same as
 * the plugin's), and interop both ways with the plugin's stdlib-Python
 * implementation, run as a real python3 child (no server: that comes with the
 * v2 routes).
 */
import { spawn } from 'node:child_process'
import { inspect } from 'node:util'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  ANSWER_PADDED_BYTES, ANSWER_SUITE, SealingError, makeKeyPair, openAnswer, sealAnswer,
  type SealedAnswer, type SealingErrorCode
} from '../../packages/sdk/src/sealing.js'

const PEER = fileURLToPath(new URL('./sealing_peer.py', import.meta.url))
const REQUEST_ID = '5f0c2a2e-3d0f-4e6b-9a43-2b1c8d7e6f50'
const NAMES = ['org.telegram.messenger', 'com.exteragram.messenger', 'ä'.repeat(128), 'x'.repeat(256), '😀'.repeat(64), '\uFEFFa.b', 'a']

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'))
const toHex = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex')
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'))
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Flips one bit of a base64url field, and encodes it again canonically. */
function flipBit (text: string, index: number): string {
  const bytes = unb64(text)
  bytes[(index + bytes.length) % bytes.length]! ^= 1
  return b64(bytes)
}

async function refusal (promise: Promise<unknown>): Promise<SealingErrorCode> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(SealingError)
  return (error as SealingError).code
}

/** Seals any 256 bytes exactly as sealAnswer does, to test what opening refuses. */
async function sealRaw (publicKey: string, plaintext: Uint8Array, requestId = REQUEST_ID): Promise<SealedAnswer> {
  const recipientPublicKey = await ANSWER_SUITE.kem.deserializePublicKey(unb64(publicKey))
  const { enc, ct } = await ANSWER_SUITE.seal({ recipientPublicKey, info: utf8('whatclient/v2 answer') }, plaintext, utf8(requestId))
  return { enc: b64(new Uint8Array(enc)), ciphertext: b64(new Uint8Array(ct)) }
}

const padded = (name: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ANSWER_PADDED_BYTES)
  out.set(name)
  return out
}

/** One command to the plugin's sealing code through test/sdk/sealing_peer.py. */
function python<T> (command: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [PEER], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => { out += String(chunk) })
    child.stderr.on('data', (chunk) => { err += String(chunk) })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as T)
      else reject(new Error(`sealing_peer.py exited ${String(code)}: ${err}`))
    })
    child.stdin.end(JSON.stringify(command))
  })
}

// RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20Poly1305, mode_base. The bytes are those plugin/tests/test_sealing.py
// recorded (read from the RFC text) and the Python implementation passes.
const A21 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
  pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  enc: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  encryptions: [ // sequence number, aad, ct
    [0, '436f756e742d30', '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28'],
    [1, '436f756e742d31', '6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c'],
    [2, '436f756e742d32', '71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b'],
    [4, '436f756e742d34', '63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16']
  ] as Array<[number, string, string]>
}

describe('RFC 9180 A.2.1 through the HPKE library as configured', () => {
  const kem = ANSWER_SUITE.kem

  it('derives the key pairs from ikmE and ikmR', async () => {
    for (const [ikm, pk, sk] of [[A21.ikmE, A21.pkEm, A21.skEm], [A21.ikmR, A21.pkRm, A21.skRm]] as const) {
      const pair = await kem.deriveKeyPair(hex(ikm))
      expect(toHex(await kem.serializePublicKey(pair.publicKey))).toBe(pk)
      expect(toHex(await kem.serializePrivateKey(pair.privateKey))).toBe(sk)
    }
  })

  it('opens the sequence-0 ciphertext with enc, skRm, info and aad', async () => {
    const [, aad, ct] = A21.encryptions[0]!
    const recipientKey = await kem.deserializePrivateKey(hex(A21.skRm))
    const pt = await ANSWER_SUITE.open({ recipientKey, enc: hex(A21.enc), info: hex(A21.info) }, hex(ct), hex(aad))
    expect(toHex(pt)).toBe(A21.pt)
  })

  it('seals every vector message from ikmE, and the recipient opens them in order', async () => {
    const recipientPublicKey = await kem.deserializePublicKey(hex(A21.pkRm))
    const sender = await ANSWER_SUITE.createSenderContext({ recipientPublicKey, info: hex(A21.info), ekm: hex(A21.ikmE) })
    expect(toHex(sender.enc)).toBe(A21.enc)
    const recipient = await ANSWER_SUITE.createRecipientContext({
      recipientKey: await kem.deriveKeyPair(hex(A21.ikmR)), enc: sender.enc, info: hex(A21.info)
    })
    let seq = 0
    for (const [number, aad, ct] of A21.encryptions) {
      // The vectors skip sequence number 3: move both counters past it.
      for (; seq < number; seq++) await recipient.open(await sender.seal(utf8('skip'), utf8('')), utf8(''))
      expect(toHex(await sender.seal(hex(A21.pt), hex(aad)))).toBe(ct)
      expect(toHex(await recipient.open(hex(ct), hex(aad)))).toBe(A21.pt)
      seq++
    }
  })
})

describe('sealed answers', () => {
  it('opens what it sealed, with fields of a fixed size whatever the name', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    expect(unb64(publicKey)).toHaveLength(32)
    for (const name of NAMES) {
      const sealed = await sealAnswer(publicKey, REQUEST_ID, name)
      expect(Object.keys(sealed).sort()).toEqual(['ciphertext', 'enc'])
      expect([sealed.enc.length, sealed.ciphertext.length]).toEqual([43, 363]) // 32 and 272 bytes
      expect(await openAnswer(privateKey, sealed, REQUEST_ID)).toBe(name)
    }
  })

  it('seals afresh each time', async () => {
    const { publicKey } = await makeKeyPair()
    const first = await sealAnswer(publicKey, REQUEST_ID, 'org.telegram.messenger')
    const second = await sealAnswer(publicKey, REQUEST_ID, 'org.telegram.messenger')
    expect(first.enc).not.toBe(second.enc)
    expect(first.ciphertext).not.toBe(second.ciphertext)
  })

  it('keeps the private key out of sight: it prints and serializes as nothing', async () => {
    const pair = await makeKeyPair()
    expect(JSON.stringify(pair.privateKey)).toBe('{}')
    expect(inspect(pair.privateKey, { showHidden: true, depth: 5 })).toBe('[Object: null prototype] {}')
    await expect(openAnswer({} as typeof pair.privateKey, await sealAnswer(pair.publicKey, REQUEST_ID, 'a.b'), REQUEST_ID))
      .rejects.toThrow(TypeError)
  })

  it('opens a plain HPKE seal of the padded name: it adds nothing beyond info, aad and padding', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    const sealed = await sealRaw(publicKey, padded(utf8('com.radolyn.ayugram')))
    expect(await openAnswer(privateKey, sealed, REQUEST_ID)).toBe('com.radolyn.ayugram')
  })

  it('refuses names it cannot seal', async () => {
    const { publicKey } = await makeKeyPair()
    for (const name of ['', 'x'.repeat(257), 'ä'.repeat(129), 'a\u0000b', 'a\uD800b', '\uDC00', 42 as unknown as string]) {
      expect(await refusal(sealAnswer(publicKey, REQUEST_ID, name)), JSON.stringify(name)).toBe('WC_ERR_SEAL_NAME')
    }
  })

  it('refuses public keys that are not 32 usable bytes of canonical base64url', async () => {
    const good = unb64((await makeKeyPair()).publicKey)
    const keys = [
      b64(good.subarray(0, 31)), // 31 bytes
      b64(new Uint8Array([...good, 0])), // 33 bytes
      b64(good) + '=', // padded
      Buffer.from(good).toString('base64'), // maybe '+' and '/', and padded
      b64(new Uint8Array(32)).slice(0, -1) + 'B', // unused bits set
      b64(good).slice(0, 20) + ' ' + b64(good).slice(21), // a stray character
      '',
      b64(new Uint8Array(32)), // u = 0: low order, an all-zero shared secret
      b64(hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')), // a point of order 8
      null as unknown as string
    ]
    for (const key of keys) {
      expect(await refusal(sealAnswer(key, REQUEST_ID, 'org.telegram.messenger')), String(key)).toBe('WC_ERR_SEAL_KEY')
    }
  })

  it('opens only with its key and request id, and refuses any change', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    const other = await makeKeyPair()
    const sealed = await sealAnswer(publicKey, REQUEST_ID, 'org.telegram.messenger')
    const cases: Array<[string, () => Promise<string>]> = [
      ['another key', async () => openAnswer(other.privateKey, sealed, REQUEST_ID)],
      ['another request id', async () => openAnswer(privateKey, sealed, REQUEST_ID + 'x')],
      ['an empty request id', async () => openAnswer(privateKey, sealed, '')],
      ['a changed first ciphertext byte', async () => openAnswer(privateKey, { ...sealed, ciphertext: flipBit(sealed.ciphertext, 0) }, REQUEST_ID)],
      ['a changed tag', async () => openAnswer(privateKey, { ...sealed, ciphertext: flipBit(sealed.ciphertext, -1) }, REQUEST_ID)],
      ['a changed enc', async () => openAnswer(privateKey, { ...sealed, enc: flipBit(sealed.enc, 0) }, REQUEST_ID)],
      ['a low-order enc', async () => openAnswer(privateKey, { ...sealed, enc: b64(new Uint8Array(32)) }, REQUEST_ID)]
    ]
    for (const [label, open] of cases) expect(await refusal(open()), label).toBe('WC_ERR_SEAL_OPEN')
  })

  it('refuses sealed answers that are not canonical base64url of the right size', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    const sealed = await sealAnswer(publicKey, REQUEST_ID, 'org.telegram.messenger')
    const bytes = unb64(sealed.ciphertext)
    const bad: Array<Partial<SealedAnswer>> = [
      { ...sealed, ciphertext: b64(bytes.subarray(0, -1)) }, // one byte short
      { ...sealed, ciphertext: b64(new Uint8Array([...bytes, 0])) }, // one byte long
      { ...sealed, ciphertext: sealed.ciphertext + '=' },
      { ...sealed, ciphertext: Buffer.from(bytes).toString('base64') },
      { ...sealed, enc: sealed.enc + 'A' },
      { ...sealed, enc: b64(unb64(sealed.enc).subarray(0, 31)) },
      { ...sealed, enc: `${sealed.enc.slice(0, -1)}${sealed.enc.endsWith('B') ? 'C' : 'B'}` }, // unused bits
      { enc: sealed.enc },
      { ciphertext: sealed.ciphertext }
    ]
    for (const answer of bad) {
      expect(await refusal(openAnswer(privateKey, answer as SealedAnswer, REQUEST_ID)), JSON.stringify(answer)).toBe('WC_ERR_SEAL_FORMAT')
    }
    expect(await refusal(openAnswer(privateKey, null as unknown as SealedAnswer, REQUEST_ID))).toBe('WC_ERR_SEAL_FORMAT')
  })

  it('refuses what opens but is not one zero-padded UTF-8 name', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    const good = utf8('org.telegram.messenger')
    const afterPadding = padded(good)
    afterPadding[good.length + 1] = 0x78 // a byte after the padding began
    const lastByte = padded(good)
    lastByte[255] = 1
    const notUtf8 = padded(new Uint8Array([0xff]))
    const overlong = padded(new Uint8Array([0xc0, 0xaf])) // '/' written in two bytes
    for (const plaintext of [afterPadding, lastByte, new Uint8Array(256), notUtf8, overlong]) {
      expect(await refusal(openAnswer(privateKey, await sealRaw(publicKey, plaintext), REQUEST_ID))).toBe('WC_ERR_SEAL_PADDING')
    }
    // A plaintext that is not 256 bytes long: the size check refuses it first.
    expect(await refusal(openAnswer(privateKey, await sealRaw(publicKey, good), REQUEST_ID))).toBe('WC_ERR_SEAL_FORMAT')
  })

  it('refuses a request id that is not well-formed text', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    expect(await refusal(sealAnswer(publicKey, '\uD800', 'a.b'))).toBe('WC_ERR_SEAL_REQUEST_ID')
    const sealed = await sealAnswer(publicKey, '\uFFFD', 'a.b') // what TextEncoder would make of it
    expect(await refusal(openAnswer(privateKey, sealed, '\uD800'))).toBe('WC_ERR_SEAL_REQUEST_ID')
  })
})

describe('interop with the plugin (plugin/whatclient.plugin under python3)', () => {
  const answers = NAMES.map((name, i) => ({ request_id: `${REQUEST_ID}-${i}`, package_name: name }))

  it('the plugin seals to a key the SDK made, and the SDK opens', async () => {
    const { publicKey, privateKey } = await makeKeyPair()
    const sealed = await python<SealedAnswer[]>({ op: 'seal', public_key: publicKey, answers })
    expect(sealed).toHaveLength(answers.length)
    for (const [i, answer] of answers.entries()) {
      expect(await openAnswer(privateKey, sealed[i]!, answer.request_id)).toBe(answer.package_name)
    }
    // The request id binds across implementations too.
    expect(await refusal(openAnswer(privateKey, sealed[0]!, answers[1]!.request_id))).toBe('WC_ERR_SEAL_OPEN')
  })

  it('the SDK seals to a key the plugin made, and the plugin opens', async () => {
    const pair = await python<{ private_key: string, public_key: string }>({ op: 'key_pair' })
    const sealed = await Promise.all(answers.map(async (a) => ({ request_id: a.request_id, ...await sealAnswer(pair.public_key, a.request_id, a.package_name) })))
    const wrongId = { ...sealed[0]!, request_id: answers[1]!.request_id }
    const opened = await python<Array<{ package_name?: string, error?: string }>>({
      op: 'open', private_key: pair.private_key, answers: [...sealed, wrongId]
    })
    expect(opened).toEqual([...answers.map((a) => ({ package_name: a.package_name })), { error: 'the sealed answer does not open with this key' }])
  })
})
