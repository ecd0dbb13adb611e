import type { Middleware } from 'koa'
import { readForm } from './form.ts'

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
    if (ctx.method !== 'POST' || !served.has(ctx.path)) return await next()
    const form = await readForm(ctx)
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(`${ctx.path}?${form}`)
  }
}
