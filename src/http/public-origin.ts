import type { Middleware } from 'koa'
import { invalidRequest } from '../errors/errors.ts'

/**
 * oidc-provider writes the URLs of discovery and of its redirects from the request's origin.
 * PostCert's public origin is PUBLIC_URL, so the request's Host (and, behind the trusted proxy,
 * X-Forwarded-Host) is set to it: no client can have a host of its choosing written into
 * discovery or a redirect (a poisoned cache). Behind the proxy X-Forwarded-Proto must say http or
 * https; anything else is refused here, not left to fail deeper as a server error.
 */
export function publicOrigin(issuer: string, trustProxy: boolean): Middleware {
  const host = new URL(issuer).host
  return async (ctx, next) => {
    ctx.request.header.host = host
    if (trustProxy) {
      if (ctx.get('x-forwarded-host')) ctx.request.header['x-forwarded-host'] = host
      const proto = ctx.get('x-forwarded-proto')
      if (proto && !proto.split(',').every((p) => /^\s*https?\s*$/i.test(p))) throw invalidRequest('X-Forwarded-Proto must be http or https')
    }
    await next()
  }
}

/**
 * oidc-provider's resume URL (/auth/{uid}) takes no parameters: it answers a request that adds
 * some, after a lost session, with a server error of its own. Refused here with a clear one.
 */
export const resumeWithoutParameters: Middleware = async (ctx, next) => {
  if (/^\/auth\/[^/]+$/.test(ctx.path) && ctx.querystring) throw invalidRequest('the resume URL of a sign-in takes no parameters: start the sign-in again at the institution')
  await next()
}
