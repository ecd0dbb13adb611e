import { randomUUID } from 'node:crypto'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import type { Metrics } from '../ops/metrics.ts'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * Gives every request an id (a proxy's X-Request-Id when we trust it), and when the response is
 * done logs one line and records metrics. Only the path is logged, never the query string, which
 * can carry codes and tokens.
 */
export function requestContext(logger: Logger, metrics: Metrics, trustProxy: boolean): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint()
    const incoming = ctx.get('x-request-id')
    const requestId = trustProxy && REQUEST_ID.test(incoming) ? incoming : randomUUID()
    ctx.state.requestId = requestId
    ctx.set('X-Request-Id', requestId)
    ctx.res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const route = (ctx.state.route as string | undefined) ?? (ctx as { oidc?: { route?: string } }).oidc?.route ?? 'unmatched'
      const status = ctx.res.writableFinished ? ctx.status : 499
      metrics.observeRequest(ctx.method, route, status, seconds)
      logger.info({ reqId: requestId, method: ctx.method, route, path: ctx.path, status, ms: Math.round(seconds * 1000) }, 'request')
    })
    await next()
  }
}
