/**
 * Logger settings that keep users out of the logs. Fastify's default request
 * serializer logs the concrete URL, which carries user and request ids, and the
 * remote address: we log the route pattern, method, status and timing only.
 */
import type { FastifyServerOptions } from 'fastify'

interface LoggedRequest {
  method: string
  routeOptions?: { url?: string }
}

export function loggerOptions (level: string): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      req: (request: LoggedRequest) => ({ method: request.method, route: request.routeOptions?.url ?? '(unmatched)' }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode })
    },
    redact: { paths: ['req.headers', 'req.url', 'req.remoteAddress', 'req.body'], remove: true }
  }
}
