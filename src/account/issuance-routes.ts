import type { Context } from 'koa'
import type { HolderBinding } from '../holders/binding.ts'
import { maskPhone } from '../phone/phone-number.ts'
import { base64urlField, readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { noStore, slot, type Step } from '../http/guards.ts'
import { scriptJson, type Locale, type Views } from '../http/views.ts'
import type { PortalSession } from '../sessions/portal-sessions.ts'
import { koreanClock } from '../util/korean-time.ts'
import { day } from './certificate-view.ts'
import type { AccountIssuance, IssuanceTarget } from './issuance.ts'

/** The signed-in portal session a guard loaded, with its CSRF token (and the posted form, for form posts). */
export type PortalSlot = ReturnType<typeof slot<{ session: PortalSession; csrf: string; token: string; form: URLSearchParams }>>

/** What the portal's routes share with these (account/routes.ts). */
export interface AccountGate {
  sessionOf: (ctx: Context) => Promise<{ session: PortalSession; csrf: string; token: string } | undefined>
  /** Guards: a signed-in session and its page's CSRF token, in the form or in a header; then `portal` holds them. */
  signedInForm: Step
  signedInApi: Step
  portal: PortalSlot
  startLogin: (ctx: Context) => void
  render: (ctx: Context, page: string, title: string, data?: Record<string, unknown>) => void
  locale: (ctx: Context) => Locale
}

/**
 * New keys from the portal, at two places with the same steps: a renewal at
 * /account/certificates/{serial}/renew, another certificate at /account/add. Each has its page
 * (when renewal opens, or the phone code, or the holder choice), the phone code's two forms,
 * and under the same path the holder step's JSON endpoints, as the enrollment's holder script
 * calls them.
 */
export function addIssuanceRoutes(router: Router, deps: { issuance: AccountIssuance; views: Views; binding: HolderBinding }, gate: AccountGate): void {
  mount('/account/certificates/:serial/renew', 'account_renew', ({ serial = '' }) => ({ kind: 'renew', serial }))
  mount('/account/add', 'account_add', () => ({ kind: 'add' }))

  function mount(path: string, name: string, targetOf: (params: Record<string, string>) => IssuanceTarget): void {
    const { issuance, views } = deps
    const base = (target: IssuanceTarget) => (target.kind === 'renew' ? `/account/certificates/${target.serial}/renew` : '/account/add')

    router.add('GET', path, name, noStore, async (ctx, params) => {
      const found = await gate.sessionOf(ctx)
      if (!found) return gate.startLogin(ctx)
      const lang = gate.locale(ctx)
      const target = targetOf(params)
      const state = await issuance.state(found.session, target)
      const c = state.certificate
      const data: Record<string, unknown> = {
        renew: target.kind === 'renew', csrf: found.csrf, state: state.kind,
        certificate: c ? { serial: c.serial, holder: views.message(lang, `account.holder.${c.holder}`), notBefore: day(c.notBefore), notAfter: day(c.notAfter) } : undefined,
      }
      if (state.kind === 'not_yet') data.opensAt = day(state.opensAt)
      if (state.kind === 'over') data.why = views.message(lang, `account.issue_over.${state.why}`)
      if (state.kind === 'open') {
        Object.assign(data, {
          closesAt: state.closesAt ? day(state.closesAt) : undefined, phoneVerified: state.phoneVerified, phone: maskPhone(state.phone),
          sent: Boolean(state.code), api: base(target),
          ...(state.code ? {
            countdown: { expiresIn: state.code.expiresIn, resendIn: state.code.resendIn, until: koreanClock(state.code.expiresAt) },
            timerMessages: views.scriptMessages(lang, ['timer.'], []), scripts: ['/assets/code-timer.js'],
          } : {}),
          ...(state.phoneVerified ? { scripts: ['/assets/enroll-holder.js'], holderMessages: scriptJson(views.messagesWithPrefix(lang, 'holder.')) } : {}),
        })
      }
      gate.render(ctx, 'account-issue', target.kind === 'renew' ? 'account.renew_title' : 'account.add_title', data)
    })

    router.add('POST', `${path}/code`, `${name}_code`, noStore, gate.signedInForm, async (ctx, params) => {
      const { session } = gate.portal.get(ctx)
      const target = targetOf(params)
      await issuance.sendCode(session, target)
      ctx.status = 303
      ctx.redirect(base(target))
    })

    router.add('POST', `${path}/verify`, `${name}_verify`, noStore, gate.signedInForm, async (ctx, params) => {
      const { session, form } = gate.portal.get(ctx)
      const target = targetOf(params)
      await issuance.verifyCode(session, target, form.get('code') ?? '')
      ctx.status = 303
      ctx.redirect(base(target))
    })

    router.add('POST', `${path}/challenge`, `${name}_challenge`, noStore, gate.signedInApi, async (ctx, params) => {
      const { session } = gate.portal.get(ctx)
      ctx.body = { challenge: (await issuance.challenge(session, targetOf(params))).toString('base64url') }
    })

    router.add('POST', `${path}/file`, `${name}_file`, noStore, gate.signedInApi, async (ctx, params) => {
      const { session } = gate.portal.get(ctx)
      const body = await readJson(ctx)
      const issued = await issuance.withFile(session, targetOf(params), {
        spki: base64urlField(body, 'spki'), signature: base64urlField(body, 'signature'), challenge: base64urlField(body, 'challenge', 64),
      })
      ctx.body = await deps.binding.issuedFile(issued, await issuance.subscriberName(session), `/account/certificates/${issued.serial}?issued=1`)
    })

    router.add('POST', `${path}/passkey/options`, `${name}_passkey_options`, noStore, gate.signedInApi, async (ctx, params) => {
      const { session } = gate.portal.get(ctx)
      const { registration, challenge } = await issuance.passkeyOptions(session, targetOf(params))
      ctx.body = { registration, challenge: challenge.toString('base64url') }
    })

    router.add('POST', `${path}/passkey`, `${name}_passkey`, noStore, gate.signedInApi, async (ctx, params) => {
      const { session } = gate.portal.get(ctx)
      const body = await readJson(ctx)
      const issued = await issuance.withPasskey(session, targetOf(params), { registration: body.registration, assertion: body.assertion, challenge: base64urlField(body, 'challenge', 64) })
      ctx.body = { serial: issued.serial, next: `/account/certificates/${issued.serial}?issued=1` }
    })
  }
}
