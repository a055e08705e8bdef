// Run by robustness.test.ts in a process of its own: calls of the built SDK
// against a bare node:http server that answers each at once, all with one
// long-lived caller signal, as a program that serves for days makes them.
// Prints how many WeakRef objects the heap kept over the counted calls, with
// no call in flight when it counts (nodejs/node#55351: AbortSignal.any left
// some on the caller's signal for every call).
import { createServer } from 'node:http'
import { getHeapSnapshot } from 'node:v8'
import { WhatClient } from '../../packages/sdk/dist/index.js'

const COUNTED = Number(process.argv[2] ?? 4000)
const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' }).end('{"tasks":[]}')
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const client = new WhatClient({ baseUrl: `http://127.0.0.1:${server.address().port}`, apiKey: 'k' })
const caller = new AbortController()
const calls = async (n) => { for (let i = 0; i < n; i++) await client.getTasks(1, 0, caller.signal) }

/** WeakRef objects in the heap now, from a heap snapshot. */
async function weakRefs () {
  // A WeakRef made in a job keeps its target until the job ends: collect across two turns.
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    globalThis.gc()
  }
  let text = ''
  for await (const chunk of getHeapSnapshot()) text += chunk
  const snapshot = JSON.parse(text)
  const fields = snapshot.snapshot.meta.node_fields
  const [type, name] = [fields.indexOf('type'), fields.indexOf('name')]
  const objectType = snapshot.snapshot.meta.node_types[0].indexOf('object')
  let count = 0
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (snapshot.nodes[i + type] === objectType && snapshot.strings[snapshot.nodes[i + name]] === 'WeakRef') count++
  }
  return count
}

await calls(500)
const before = await weakRefs()
await calls(COUNTED)
const after = await weakRefs()
server.closeAllConnections()
server.close()
process.stdout.write(`${JSON.stringify({ calls: COUNTED, weakRefsKept: after - before })}\n`)
