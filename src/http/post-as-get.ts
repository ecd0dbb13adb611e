import type { Middleware } from 'koa'
import { payloadTooLarge } from '../errors/errors.ts'
import { readForm } from './form.ts'

/**
 * The longest URL a posted request may become. Encoding a form again can triple it (`!` becomes
 * `%21`), and a Location past what clients, proxies and PostCert itself read in a request line
 * (commonly 8 KiB) is a redirect nobody can follow: such a request belongs in a pushed
 * authorization request (PAR), whose body has no such limit.
 */
export const MAX_REDIRECT_URL_LENGTH = 8 * 1024

/**
 * OpenID Connect lets relying parties send the authorization and logout requests as form posts
 * (Core 3.1.2.1, RP-Initiated Logout 2). oidc-provider takes POST there only with SameSite=None
 * cookies, which would send PostCert's session cookie along with any cross-site form. Instead a
 * posted request is turned into the same request by GET: a 303 to the endpoint with the form as
 * its query. The browser follows it as a top-level navigation, so the SameSite=Lax session
 * cookie comes along exactly as for a GET request.
 */
export function postAsGet(paths: string[]): Middleware {
  const served = new Set(paths)
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !served.has(ctx.path)) {
      await next()
      return
    }
    const form = await readForm(ctx)
    const location = `${ctx.path}?${form}`
    if (location.length > MAX_REDIRECT_URL_LENGTH) {
      throw payloadTooLarge(`the request is too long to be sent as a URL (${MAX_REDIRECT_URL_LENGTH} characters at most); push it with PAR (/request) instead`)
    }
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(location)
  }
}
