import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import { RETRY_AFTER_SECONDS } from '../db/unavailable.ts'
import { notFound, PostCertError } from '../errors/errors.ts'
import { DatabaseUnavailableError } from '../errors/postcert-error.ts'
import { renderErrorPage } from './error-page.ts'
import { pickLocale, type Views } from './views.ts'

/** Codes whose message says only that something was wrong: their page adds the description. */

/**
 * Turns anything thrown by PostCert's routes, and any path nobody served, into a response:
 * OAuth-style JSON for API callers, a readable page for browsers. A 5xx is logged with its
 * stack and shown without details.
 */
export function errorHandler(views: Views, logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body == null && !ctx.headerSent) throw notFound()
      // oidc-provider's endpoints answer 503 themselves (the adapter's providerUnavailable).
      if (ctx.status === 503 && !ctx.headerSent && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS))
    } catch (thrown) {
      const err = PostCertError.from(thrown)
      // A database that is down is an operational condition, not a bug: one line, no stack per request.
      if (err instanceof DatabaseUnavailableError) logger.warn({ reqId: ctx.state.requestId, cause: ((err.cause ?? thrown) as Error).message }, 'database unavailable')
      else if (!err.expose) logger.error({ err: thrown, reqId: ctx.state.requestId }, 'request failed')
      if (ctx.headerSent) return
      ctx.status = err.status
      ctx.set('Cache-Control', 'no-store')
      if (err.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS))
      const body = err.toJSON()
      if (ctx.accepts('json', 'html') === 'html') {
        const locale = pickLocale(ctx.query.ui_locales, (langs) => ctx.acceptsLanguages(langs))
        renderErrorPage(ctx, views, locale, { code: body.error, description: body.error_description, status: err.status, link: err.expose ? err.link : undefined, source: 'postcert' })
      } else {
        ctx.body = body
      }
    }
  }
}

/** Codes of a connection the client closed or broke (node's socket and HTTP parser errors). */
const CLIENT_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'])

/**
 * Whether an error Koa reports after the response (its 'error' event) was caused by the client:
 * an upload it abandoned, a request it cut off or could not form. Those are logged at debug
 * level without a stack, so an anonymous client cannot flood the error log; anything else is a
 * fault of PostCert's.
 */
export function isClientCaused(err: unknown): boolean {
  const e = err as { status?: unknown; expose?: unknown; code?: unknown; message?: unknown } | null
  if (!e || typeof e !== 'object') return false
  if (e.expose === true || (typeof e.status === 'number' && e.status < 500)) return true
  const code = typeof e.code === 'string' ? e.code : ''
  return CLIENT_CONNECTION_CODES.has(code) || code.startsWith('HPE_') || e.message === 'aborted'
}
