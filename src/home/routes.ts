import type { Context } from 'koa'
import { noStore } from '../http/guards.ts'
import type { Router } from '../http/router.ts'
import { languageSwitch, pickLocale, type Views } from '../http/views.ts'

/**
 * GET /: the front door a citizen lands on (#17): what the certificate is, and the ways in: get
 * one, manage mine, report a lost one. The logo on every page links here.
 */
export function addHomeRoutes(router: Router, deps: { views: Views }): void {
  router.add('GET', '/', 'home', noStore, (ctx: Context) => {
    const lang = pickLocale(ctx.query.ui_locales, (langs) => ctx.acceptsLanguages(langs))
    const keep = typeof ctx.query.ui_locales === 'string' ? `?ui_locales=${lang}` : ''
    ctx.type = 'html'
    ctx.body = deps.views.render('home', lang, 'home.title', { ...languageSwitch(ctx, lang), enroll: `/enroll${keep}`, account: `/account${keep}` })
  })
}
