/**
 * Logging that keeps users out of the logs. Fastify's default request lines
 * carry the concrete URL (user and request ids) and the remote address; the
 * default 404 line puts the URL in the message itself. Ours carry the route
 * pattern, method, status and time, and never a URL, header, body or address.
 */
import fs from 'node:fs'
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import { elapsedMs } from './fast-path/handed-on.js'
import { roundMs, type RequestStats } from './request-stats.js'

type SonicBoom = ReturnType<typeof pino.destination>

/** The key under which Fastify keeps a request's route context, found once on the first request. */
let routeContext: symbol | null | undefined

/**
 * The route pattern a request matched (never its URL), or `(unmatched)`. Read
 * from Fastify's route context: `request.routeOptions` builds a new object of a
 * dozen fields on every read, and this runs for every request.
 */
export function routeOf (request: FastifyRequest): string {
  if (routeContext === undefined) routeContext = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
  const url = routeContext === null
    ? request.routeOptions?.url
    : (request as unknown as Record<symbol, { config?: { url?: string } } | undefined>)[routeContext]?.config?.url
  return url ?? '(unmatched)'
}

/** What a request's log line and its statistics hold: nothing that names a user. */
export function requestLine (request: FastifyRequest, reply: FastifyReply, route = routeOf(request)): { method: string, route: string, statusCode: number, ms: number } {
  return { method: request.method, route, statusCode: reply.statusCode, ms: roundMs(elapsedMs(request.raw, reply.elapsedTime)) }
}

/** Whether `level` writes a line per request (debug, trace): else requests are only counted. */
export function logsEveryRequest (level: string): boolean {
  return (pino.levels.values[level] ?? 30) <= pino.levels.values.debug!
}

/**
 * Per-request lines at debug level; at the default level requests are counted
 * into RequestStats and summarised periodically (see request-stats.ts).
 */
class PrivateLogController extends LogController {
  readonly #stats: RequestStats
  /** Whether per-request lines are written (LOG_LEVEL=debug or trace): else none is even built. */
  readonly #lines: boolean

  constructor (stats: RequestStats, level: string) {
    super()
    this.#stats = stats
    this.#lines = logsEveryRequest(level)
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = routeOf(request)
    const ms = roundMs(elapsedMs(request.raw, reply.elapsedTime))
    this.#stats.record(request.method, route, reply.statusCode, ms)
    if (error) {
      reply.log.error({ method: request.method, route, statusCode: reply.statusCode, ms, err: { type: error.name, code: (error as { code?: string }).code } }, 'request errored')
    } else if (this.#lines) {
      reply.log.debug({ method: request.method, route, statusCode: reply.statusCode, ms }, 'request')
    }
  }

  override defaultErrorLog (error: Error, _request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) reply.log.error({ err: { type: error.name, code: (error as { code?: string }).code, stack: error.stack } }, 'request failed')
  }

  override routeNotFound (): void {}

  override streamError (error: Error, _request: FastifyRequest, reply: FastifyReply): void {
    reply.log.info({ err: { type: error.name, code: (error as { code?: string }).code } }, 'response stream closed early')
  }
}

/**
 * Where log lines go by default: stdout through a buffer that is written in
 * 4 KiB chunks off the request path (a synchronous write per line costs a
 * sizeable share of an idle poll), and at least every second, so a quiet
 * server's lines are not held back. `close()` writes what is left.
 */
export function bufferedStdout (): { stream: SonicBoom, close: () => void } {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 })
  // Ours at a close, and pino's own at the process's exit.
  const flushSync = stream.flushSync.bind(stream)
  stream.flushSync = () => { droppingUnwritable(flushSync) }
  const timer = setInterval(() => stream.flush(), 1000).unref()
  return {
    stream,
    close: () => {
      clearInterval(timer)
      stream.flushSync()
    }
  }
}

/**
 * Runs `flush` with fs.writeSync dropping what cannot be written instead of failing.
 * sonic-boom's flushSync (4.2) retries every error but EAGAIN and EBUSY for ever, 100 ms
 * apart, on the main thread: with a stdout whose reader has gone (EPIPE: `serve | head`),
 * the last flush at a close held the process for good, deaf to signals and to
 * SHUTDOWN_TIMEOUT_SECONDS. Lines that no one can read are lost either way. (pino makes
 * flushSync a no-op once an async write has met EPIPE, but a pipe can break after the last one.)
 */
function droppingUnwritable (flush: () => void): void {
  const writeSync = fs.writeSync
  fs.writeSync = function (fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]): number {
    try {
      return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Passing: sonic-boom waits and tries again, as it would without us.
      if (code === 'EAGAIN' || code === 'EBUSY') throw error
      return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength
    }
  } as typeof fs.writeSync
  try {
    flush()
  } finally {
    fs.writeSync = writeSync
  }
}

/**
 * Every request logs through the one server logger. Fastify's default builds a
 * child logger per request to bind its request counter (`reqId`): a per-request
 * cost that buys a label our lines must not carry anyway (they name no request).
 */
const sharedLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger) => logger

export function loggingOptions (level: string, stats: RequestStats, stream?: NodeJS.WritableStream | SonicBoom): Pick<FastifyServerOptions, 'logger' | 'logController' | 'childLoggerFactory'> {
  return {
    childLoggerFactory: sharedLogger,
    logger: {
      level,
      // Nothing we log carries these, but a stray `req` or `res` must not bring them in either.
      serializers: {
        req: (request: { method: string, routeOptions?: { url?: string } }) => ({ method: request.method, route: (request as { routeOptions?: { url?: string } }).routeOptions?.url ?? '(unmatched)' }),
        res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode })
      },
      ...(stream === undefined ? {} : { stream })
    },
    logController: new PrivateLogController(stats, level)
  }
}

/**
 * Logs one summary line per route and status every `intervalMs`, and once more at close,
 * each with the `seconds` it covers (the last one's are fewer), so that a count reads as a rate.
 */
export function summariseRequests (log: FastifyBaseLogger, stats: RequestStats, intervalMs: number): { close: () => void } {
  let since = performance.now()
  const flush = (): void => {
    const now = performance.now()
    const seconds = Math.round((now - since) / 100) / 10
    since = now
    for (const summary of stats.drain()) log.info({ ...summary, seconds }, 'requests')
  }
  const timer = setInterval(flush, intervalMs).unref()
  return {
    close: () => {
      clearInterval(timer)
      flush()
    }
  }
}
