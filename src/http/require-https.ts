import type { Middleware } from 'koa'
import { httpsRequired } from '../errors/errors.ts'

/** Paths a load balancer or monitoring system calls directly over plain HTTP. */
const PLAIN_HTTP_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * With an https issuer, PostCert serves plain HTTP behind a TLS proxy. A request that did not come
 * through it (or a proxy that is not trusted) is refused here, instead of failing later when a
 * secure cookie cannot be set on an insecure connection.
 */
export function requireHttps(enabled: boolean): Middleware {
  return async (ctx, next) => {
    if (enabled && !ctx.secure && !PLAIN_HTTP_PATHS.has(ctx.path)) throw httpsRequired()
    await next()
  }
}
