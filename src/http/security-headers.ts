import type { Middleware } from 'koa'

/**
 * Headers for every response. The CSP allows no inline script; oidc-provider adds the hash of
 * its own form_post script to this header when it needs one.
 */
export function securityHeaders(hsts: boolean): Middleware {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    // Institutions' logos (logo_uri, https only) are shown on the login and registration pages.
    "img-src 'self' data: https:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp)
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('X-Frame-Options', 'DENY')
    ctx.set('Referrer-Policy', 'no-referrer')
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin')
    ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()')
    if (hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
    await next()
  }
}
