import type { Context } from 'koa'
import type { CertificateAuthority } from '../ca/authority.ts'
import type { CaHierarchy } from '../ca/hierarchy.ts'
import { toPem } from '../ca/x509.ts'
import { base64urlField, readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { scriptJson, type Locale, type Views } from '../http/views.ts'
import type { AccountSession } from './account-service.ts'
import type { RenewalService } from './renewal.ts'
import { day } from './certificate-view.ts'

/** What the portal's routes share with the renewal routes (account/routes.ts). */
export interface AccountGate {
  sessionOf: (ctx: Context) => Promise<{ session: AccountSession; csrf: string; token: string } | undefined>
  signedInForm: (ctx: Context) => Promise<{ session: AccountSession; csrf: string; token: string; form: URLSearchParams }>
  signedInApi: (ctx: Context) => Promise<{ session: AccountSession; csrf: string; token: string }>
  startLogin: (ctx: Context) => void
  render: (ctx: Context, page: string, title: string, data?: Record<string, unknown>) => void
  locale: (ctx: Context) => Locale
}

/**
 * /account/certificates/{serial}/renew: the renewal page (when the window opens, or the phone
 * code, or the holder choice), the phone code's two forms, and the holder step's JSON endpoints
 * under the same path, as the enrollment's holder script calls them.
 */
export function addRenewalRoutes(router: Router, deps: { renewal: RenewalService; views: Views; authority: CertificateAuthority; hierarchy: CaHierarchy }, gate: AccountGate): void {
  const { renewal, views } = deps
  const base = (serial: string) => `/account/certificates/${serial}/renew`

  router.add('GET', '/account/certificates/:serial/renew', 'account_renew', async (ctx, { serial = '' }) => {
    const found = await gate.sessionOf(ctx)
    if (!found) return gate.startLogin(ctx)
    const lang = gate.locale(ctx)
    const state = await renewal.state(found.session, serial)
    const c = state.certificate
    const data: Record<string, unknown> = {
      certificate: { serial: c.serial, holder: views.message(lang, `account.holder.${c.holder}`), notBefore: day(c.notBefore), notAfter: day(c.notAfter) },
      csrf: found.csrf, state: state.kind,
    }
    if (state.kind === 'not_yet') data.opensAt = day(state.opensAt)
    if (state.kind === 'over') data.why = views.message(lang, `account.renew_over.${state.why}`)
    if (state.kind === 'open') {
      Object.assign(data, {
        closesAt: day(state.closesAt), phoneVerified: state.phoneVerified, phone: maskPhone(state.phone),
        sent: ctx.query.sent === '1', api: base(state.certificate.serial),
        ...(state.phoneVerified ? { scripts: ['/assets/enroll-holder.js'], holderMessages: scriptJson(views.messagesWithPrefix(lang, 'holder.')) } : {}),
      })
    }
    gate.render(ctx, 'account-renew', 'account.renew_title', data)
  })

  router.add('POST', '/account/certificates/:serial/renew/code', 'account_renew_code', async (ctx, { serial = '' }) => {
    const { session } = await gate.signedInForm(ctx)
    await renewal.sendCode(session, serial)
    ctx.status = 303
    ctx.redirect(`${base(serial)}?sent=1`)
  })

  router.add('POST', '/account/certificates/:serial/renew/verify', 'account_renew_verify', async (ctx, { serial = '' }) => {
    const { session, form } = await gate.signedInForm(ctx)
    await renewal.verifyCode(session, serial, form.get('code') ?? '')
    ctx.status = 303
    ctx.redirect(base(serial))
  })

  router.add('POST', '/account/certificates/:serial/renew/challenge', 'account_renew_challenge', async (ctx, { serial = '' }) => {
    const { session } = await gate.signedInApi(ctx)
    ctx.body = { challenge: (await renewal.challenge(session, serial)).toString('base64url') }
  })

  router.add('POST', '/account/certificates/:serial/renew/file', 'account_renew_file', async (ctx, { serial = '' }) => {
    const { session } = await gate.signedInApi(ctx)
    const body = await readJson(ctx)
    const renewed = await renewal.renewWithFile(session, serial, {
      spki: base64urlField(body, 'spki'), signature: base64urlField(body, 'signature'), challenge: base64urlField(body, 'challenge', 64),
    })
    const ca = await deps.hierarchy.issuing()
    const subscriber = await deps.renewal.subscriberName(session)
    ctx.body = {
      serial: renewed.serial, name: subscriber, certificate: toPem(renewed.der, 'CERTIFICATE'),
      chain: toPem(ca.certificate.rawData, 'CERTIFICATE') + toPem(ca.root.rawData, 'CERTIFICATE'),
      not_after: renewed.notAfter.toISOString(), next: `/account/certificates/${renewed.serial}?renewed=1`,
    }
  })

  router.add('POST', '/account/certificates/:serial/renew/passkey/options', 'account_renew_passkey_options', async (ctx, { serial = '' }) => {
    const { session } = await gate.signedInApi(ctx)
    const { registration, challenge } = await renewal.passkeyOptions(session, serial)
    ctx.body = { registration, challenge: challenge.toString('base64url') }
  })

  router.add('POST', '/account/certificates/:serial/renew/passkey', 'account_renew_passkey', async (ctx, { serial = '' }) => {
    const { session } = await gate.signedInApi(ctx)
    const body = await readJson(ctx)
    const renewed = await renewal.renewWithPasskey(session, serial, { registration: body.registration, assertion: body.assertion, challenge: base64urlField(body, 'challenge', 64) })
    ctx.body = { serial: renewed.serial, next: `/account/certificates/${renewed.serial}?renewed=1` }
  })
}

/** 010-****-0001: enough to recognise one's own number. */
function maskPhone(e164: string): string {
  const local = `0${e164.replace(/^\+82/, '')}`
  return `${local.slice(0, 3)}-****-${local.slice(-4)}`
}
