/**
 * An AbortSignal that fires when the client goes away before its reply is
 * written. It watches the response, not the request: on Node 20 a request
 * emits 'close' as soon as its body is read, so `request.signal` and
 * `request.raw.on('close')` fire early for calls with a body.
 */
import type { FastifyReply } from 'fastify'

export function clientGone (reply: FastifyReply): { signal: AbortSignal, dispose: () => void } {
  const controller = new AbortController()
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort()
  }
  reply.raw.once('close', onClose)
  return { signal: controller.signal, dispose: () => reply.raw.removeListener('close', onClose) }
}

/**
 * Runs a possibly held call with a signal that fires if the client leaves.
 * A call that does not wait gets no signal, and pays nothing for one. A hold
 * that ends because the server closes answers with `Connection: close`: its
 * reply can leave after Node closed the idle connections, and its own must not
 * stay open for keep-alive either.
 */
export async function whileClientStays<T> (reply: FastifyReply, waitMs: number, run: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  if (waitMs <= 0) return run()
  const gone = clientGone(reply)
  try {
    return await run(gone.signal)
  } finally {
    gone.dispose()
    if (reply.server.relay.isClosing()) void reply.header('connection', 'close')
  }
}
