import type { Context } from 'koa'
import { errorReason } from './error-reason.ts'
import { noteError } from './request-context.ts'
import type { Locale, Views } from './views.ts'

/** Codes whose message says only that the request was not valid: their page adds the description as the reason. */
const GENERIC_CODES = new Set(['invalid_request'])

export interface ErrorPage {
  code: string
  description: string | undefined
  status: number
  /** Where a browser should go next (message key of the link text). */
  link?: { href: string; key: string }
  /**
   * Whose error it is. PostCert's descriptions are written for people: a code without a message
   * of its own shows its description, and only generic codes add a reason. oidc-provider's are
   * written for developers: a code without a message shows the generic one, and every 4xx adds
   * the description as the reason, in the reader's language when PostCert knows it.
   */
  source: 'postcert' | 'provider'
}

/**
 * The error page, the one renderer for PostCert's errors (error-handler.ts) and oidc-provider's
 * (provider.ts, renderError): the code's message in the reader's language, the reason, the
 * request id to quote to support, and where to go next. 5xx pages stay generic.
 */
export function renderErrorPage(ctx: Context, views: Views, locale: Locale, error: ErrorPage): void {
  noteError(ctx, error.code)
  const key = `error.${error.code}`
  const localized = views.has(locale, key)
  const message = localized ? views.message(locale, key)
    : error.source === 'provider' || error.description === undefined ? views.message(locale, 'error.invalid_request') : error.description
  const explains = error.status < 500 && error.code !== 'server_error' && (error.source === 'provider' || GENERIC_CODES.has(error.code))
  const reason = explains ? errorReason(views, locale, error.description, message) : undefined
  ctx.type = 'html'
  ctx.body = views.render('error', locale, 'error.title', { code: error.code, message, reason, requestId: ctx.state.requestId as string | undefined, link: error.link })
}
