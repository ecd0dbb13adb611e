import type { Context } from 'koa'
import { errors, type default as Provider } from 'oidc-provider'
import { InteractionExpiredError } from '../errors/errors.ts'
import type { Csrf } from '../http/csrf.ts'
import { readForm } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { pickLocale, type Views } from '../http/views.ts'

export interface InteractionDeps {
  provider: () => Provider
  views: Views
  csrf: Csrf
}

const NOT_AVAILABLE = 'certificate login is not available yet'

/**
 * /interaction/:uid: where oidc-provider sends the browser to log in. Certificate login arrives
 * with #5; until then the page says so and returns the subscriber to the institution with
 * access_denied.
 */
export function addInteractionRoutes(router: Router, deps: InteractionDeps): void {
  router.add('GET', '/interaction/:uid', 'interaction', async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const details = await interactionDetails(provider, ctx, uid)
    const clientId = String(details.params.client_id ?? '')
    const client = await provider.Client.find(clientId)
    const locale = pickLocale(details.params.ui_locales, (langs) => ctx.acceptsLanguages(langs))
    ctx.set('Cache-Control', 'no-store')
    ctx.type = 'html'
    ctx.body = deps.views.render('interaction', locale, 'interaction.title', {
      uid,
      csrf: deps.csrf.token(`interaction:${uid}`),
      clientName: client?.clientName ?? clientId,
    })
  })

  router.add('POST', '/interaction/:uid/abort', 'interaction_abort', async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const form = await readForm(ctx)
    await interactionDetails(provider, ctx, uid)
    deps.csrf.verify(`interaction:${uid}`, form.get('csrf'))
    const returnTo = await provider.interactionResult(ctx.req, ctx.res,
      { error: 'access_denied', error_description: NOT_AVAILABLE },
      { mergeWithLastSubmission: false })
    ctx.status = 303
    ctx.redirect(returnTo)
  })
}

/** The interaction behind this browser's cookie, which must be the one in the URL. */
async function interactionDetails(provider: Provider, ctx: Context, uid: string) {
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res)
    if (details.uid !== uid) throw new InteractionExpiredError()
    return details
  } catch (err) {
    if (err instanceof errors.SessionNotFound) throw new InteractionExpiredError(undefined, { cause: err })
    throw err
  }
}
