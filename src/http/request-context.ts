import { randomUUID } from 'node:crypto'
import type { Context, Middleware } from 'koa'
import type { Logger } from 'pino'
import type { Metrics } from '../ops/metrics.ts'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * Gives every request an id (a proxy's X-Request-Id when we trust it), and when the response is
 * done logs one line and records metrics. Only the path is logged, never the query string, which
 * can carry codes and tokens. An error answer's line adds its error code, and any request's the
 * client it was for (a registered client's id, never what the request claimed).
 */
export function requestContext(logger: Logger, metrics: Metrics, trustProxy: boolean): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint()
    const requestId = requestIdOf(ctx.get('x-request-id'), trustProxy)
    ctx.state.requestId = requestId
    ctx.set('X-Request-Id', requestId)
    ctx.res.once('close', () => {
      const route = (ctx.state.route as string | undefined) ?? (ctx as { oidc?: { route?: string } }).oidc?.route ?? 'unmatched'
      const status = ctx.res.writableFinished ? ctx.status : 499
      recordRequest(logger, metrics, {
        requestId, method: ctx.method, route, path: ctx.path, status, started,
        error: status >= 400 ? errorCodeOf(ctx) : undefined, client: clientIdOf(ctx),
      })
    })
    await next()
  }
}

/** The request's id: the trusted proxy's X-Request-Id when it is one, else a new one. */
export function requestIdOf(incoming: string | string[] | undefined, trustProxy: boolean): string {
  return trustProxy && typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/** A finished request: its metrics and its log line (`started`: process.hrtime.bigint() when it came). */
export function recordRequest(logger: Logger, metrics: Metrics, request: {
  requestId: string; method: string; route: string; path: string; status: number; started: bigint; error?: string; client?: string
}): void {
  const { requestId, method, route, path, status, error, client } = request
  const seconds = Number(process.hrtime.bigint() - request.started) / 1e9
  metrics.observeRequest(method, route, status, seconds, error)
  logger.info({
    reqId: requestId, method, route, path, status, ms: Math.round(seconds * 1000),
    ...(error === undefined ? {} : { error }), ...(client === undefined ? {} : { client }),
  }, 'request')
}

/** Records the error code of the answer (an error page, a form shown again with its error). */
export function noteError(ctx: Context, code: string): void {
  ctx.state.errorCode = code
}

/** Records which registered client a request was for, where oidc-provider does not know it (interactions). */
export function noteClient(ctx: Context, clientId: string): void {
  ctx.state.clientId = clientId
}

/** The code PostCert noted, or the `error` of a JSON answer (PostCert's and oidc-provider's). */
function errorCodeOf(ctx: Context): string | undefined {
  if (typeof ctx.state.errorCode === 'string') return ctx.state.errorCode
  const body = ctx.body as { error?: unknown } | null | undefined
  if (body && typeof body === 'object' && !Buffer.isBuffer(body) && typeof body.error === 'string') return body.error
  return undefined
}

function clientIdOf(ctx: Context): string | undefined {
  if (typeof ctx.state.clientId === 'string') return ctx.state.clientId
  // oidc-provider's context: the client is set once it has been found (and authenticated, at /token).
  const client = (ctx as { oidc?: { client?: { clientId?: unknown } } }).oidc?.client
  return typeof client?.clientId === 'string' ? client.clientId : undefined
}
