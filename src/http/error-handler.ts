import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import { NotFoundError, PostCertError } from '../errors/errors.ts'
import { pickLocale, type Views } from './views.ts'

/**
 * Turns anything thrown by PostCert's routes, and any path nobody served, into a response:
 * OAuth-style JSON for API callers, a readable page for browsers. A 5xx is logged with its
 * stack and shown without details.
 */
export function errorHandler(views: Views, logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body == null && !ctx.headerSent) throw new NotFoundError()
    } catch (thrown) {
      const err = PostCertError.from(thrown)
      if (!err.expose) logger.error({ err: thrown, reqId: ctx.state.requestId }, 'request failed')
      if (ctx.headerSent) return
      ctx.status = err.status
      ctx.set('Cache-Control', 'no-store')
      const body = err.toJSON()
      if (ctx.accepts('json', 'html') === 'html') {
        const locale = pickLocale(ctx.query.ui_locales, (langs) => ctx.acceptsLanguages(langs))
        const key = `error.${body.error}`
        const message = views.has(locale, key) ? views.message(locale, key) : body.error_description
        ctx.type = 'html'
        ctx.body = views.render('error', locale, 'error.title', { code: body.error, message, requestId: ctx.state.requestId, link: err.expose ? err.link : undefined })
      } else {
        ctx.body = body
      }
    }
  }
}
