import { createHash, randomBytes } from 'node:crypto'
import type { Context } from 'koa'
import type Provider from 'oidc-provider'
import { invalidRequest } from '../errors/errors.ts'
import type { Csrf } from '../http/csrf.ts'
import { readForm } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { noStore, slot, type Step } from '../http/guards.ts'
import { languageSwitch, pickLocale, type Locale, type Views } from '../http/views.ts'
import type { CertificateClaim, LoginRef } from '../sessions/login-sessions.ts'
import type { PostgresAdapter } from '../oidc/adapter.ts'
import { displayName } from '../oidc/client-policy.ts'
import type { CertificateAuthority } from '../ca/authority.ts'
import type { HolderBinding } from '../holders/binding.ts'
import { MAX_CERTIFICATES_IN_USE } from '../ca/constants.ts'
import type { AccountService } from './account-service.ts'
import { ACCOUNT_SESSION_SECONDS, type PortalSession, type PortalSessions } from '../sessions/portal-sessions.ts'
import { CERTIFICATE_ACTIONS, changeCertificateStatus, SUBSCRIBER_REVOCATION_REASONS } from '../ca/certificate-actions.ts'
import { ACCOUNT_CLIENT_ID, accountRedirectUri } from './portal-client.ts'
import { certificateView, day, time } from './certificate-view.ts'
import type { Clock } from '../util/clock.ts'
import type { AccountIssuance } from './issuance.ts'
import { addIssuanceRoutes, type PortalSlot } from './issuance-routes.ts'
import type { Registrations } from '../registrations/registrations.ts'
import { releasedClaims } from '../oidc/scope-claims.ts'

const SESSION_COOKIE = 'postcert_account'
const LOGIN_COOKIE = 'postcert_account_login'
/** Time to complete the certificate login started from the portal. */
const LOGIN_SECONDS = 10 * 60

export interface AccountRouteDeps {
  service: AccountService
  registrations: Registrations
  sessions: PortalSessions
  issuance: AccountIssuance
  authority: CertificateAuthority
  binding: HolderBinding
  provider: () => Provider
  views: Views
  csrf: Csrf
  issuer: string
  secureCookies: boolean
  clock: Clock
  /** The certificate a login used (sessions/login-sessions.ts). */
  loginCertificate: (login: LoginRef) => Promise<CertificateClaim | undefined>
}

/** What a registration gives the institution, as the registration page said it: each item in plain words, then ongoing access if granted. */
const grantItems = (institution: { scopes: string[]; claims: string[] }): string[] =>
  [...new Set([...releasedClaims(institution.scopes), ...institution.claims])].map((claim) => `consent.claim.${claim}`)
    .concat(institution.scopes.includes('offline_access') ? ['account.grant.offline_access'] : [])

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/**
 * /account: the subscriber portal, signed in with the certificate itself. PostCert is its own
 * first-party client: /account sends the browser through the ordinary authorization endpoint
 * (prompt=login, PKCE, state, nonce) and redeems the code in-process at /account/callback with
 * the token endpoint's checks, instead of calling its own public URL.
 */
export function addAccountRoutes(router: Router, deps: AccountRouteDeps): void {
  const grantsText = (institution: { scopes: string[]; claims: string[] }, lang: Locale) =>
    grantItems(institution).filter((key) => views.has(lang, key)).map((key) => views.message(lang, key)).join(', ')
  const { service, views } = deps
  const locale = (ctx: Context): Locale => pickLocale(ctx.query.ui_locales, (langs) => ctx.acceptsLanguages(langs))
  const cookie = (path: string, seconds: number) => ({ httpOnly: true, sameSite: 'lax' as const, secure: deps.secureCookies, path, maxAge: seconds * 1000, overwrite: true, signed: true })
  /** Renders a page; `at` is where its language switch leads when a form post renders it (a GET address). */
  const render = (ctx: Context, page: string, title: string, data: Record<string, unknown> = {}, at?: string) => {
    ctx.type = 'html'
    const lang = locale(ctx)
    ctx.body = views.render(page, lang, title, { ...languageSwitch(ctx, lang, at), ...data })
  }

  /** The signed-in session, or undefined (the caller sends the browser to log in). */
  const sessionOf = async (ctx: Context): Promise<{ session: PortalSession; csrf: string; token: string } | undefined> => {
    const token = ctx.cookies.get(SESSION_COOKIE, { signed: true })
    const session = await deps.sessions.find(token)
    return session && token ? { session, token, csrf: deps.csrf.token(`account:${token}`) } : undefined
  }
  const portal: PortalSlot = slot('portal session')
  /** Guard of the portal's form posts: a signed-in session and its page's CSRF token in the form (portal.get), or a 4xx. */
  const signedInForm: Step = async (ctx) => {
    const found = await sessionOf(ctx)
    if (!found) throw invalidRequest('your session at the portal has ended; sign in again')
    const form = await readForm(ctx)
    deps.csrf.verify(`account:${found.token}`, form.get('csrf'))
    portal.set(ctx, { ...found, form })
  }

  const startLogin = (ctx: Context) => {
    const login = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url') }
    ctx.cookies.set(LOGIN_COOKIE, Buffer.from(JSON.stringify(login)).toString('base64url'), cookie('/account', LOGIN_SECONDS))
    const query = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: accountRedirectUri(deps.issuer),
      state: login.state, nonce: login.nonce, code_challenge: s256(login.verifier), code_challenge_method: 'S256',
      // Every portal visit proves possession of the certificate again, whatever the SSO session.
      prompt: 'login', ui_locales: locale(ctx),
    })
    ctx.status = 303
    ctx.redirect(`/auth?${query}`)
  }

  /** Guard of a portal page script's JSON endpoints: a signed-in session and its page's CSRF token in a header (portal.get). */
  const signedInApi: Step = async (ctx) => {
    const found = await sessionOf(ctx)
    if (!found) throw invalidRequest('your session at the portal has ended; sign in again')
    deps.csrf.verify(`account:${found.token}`, ctx.get('x-csrf-token') || null)
    portal.set(ctx, { ...found, form: new URLSearchParams() })
  }
  addIssuanceRoutes(router, { issuance: deps.issuance, views, binding: deps.binding }, { sessionOf, signedInForm, signedInApi, portal, startLogin, render, locale })

  router.add('GET', '/account', 'account', noStore, async (ctx) => {
    const found = await sessionOf(ctx)
    if (!found) return startLogin(ctx)
    const lang = locale(ctx)
    const { subscriberId } = found.session
    const [certificates, institutions, activity] = await Promise.all([
      service.certificates(subscriberId), deps.registrations.list(subscriberId), service.activity(subscriberId),
    ])
    const provider = deps.provider()
    const revoked = typeof ctx.query.revoked === 'string' ? ctx.query.revoked : undefined
    const names = await institutionNames(provider, lang, [
      ...institutions.map((i) => i.clientId), ...activity.entries.flatMap((e) => (e.clientId ? [e.clientId] : [])), ...(revoked ? [revoked] : []),
    ])
    render(ctx, 'account', 'account.title', {
      csrf: found.csrf, lang,
      certificates: certificates.map((c) => certificateView(c, lang, views)),
      institutions: institutions.map((i) => ({ ...i, name: names.get(i.clientId), registeredAt: day(i.registeredAt), grants: grantsText(i, lang) })),
      activity: activity.entries.slice(0, 5).map((e) => activityView(e, lang, views, names)),
      revoked: revoked ? names.get(revoked) : undefined,
      sessionMinutes: ACCOUNT_SESSION_SECONDS / 60,
      canAdd: certificates.filter((c) => c.inUse).length < MAX_CERTIFICATES_IN_USE,
    })
  })

  router.add('GET', '/account/callback', 'account_callback', noStore, async (ctx) => {
    const saved = ctx.cookies.get(LOGIN_COOKIE, { signed: true })
    ctx.cookies.set(LOGIN_COOKIE, '', { ...cookie('/account', 0), maxAge: 0 })
    if (typeof ctx.query.error === 'string') {
      ctx.status = 400
      return render(ctx, 'error', 'error.title', { code: ctx.query.error, message: views.message(locale(ctx), 'account.login_failed'), link: { href: '/account', key: 'account.try_again' } })
    }
    const login = saved ? JSON.parse(Buffer.from(saved, 'base64url').toString()) as { state: string; nonce: string; verifier: string } : undefined
    if (!login || ctx.query.state !== login.state) throw invalidRequest('this sign-in to the portal was not started here, or has expired: open /account again')
    if (ctx.query.iss !== deps.issuer) throw invalidRequest('the response does not come from this issuer')
    // The token endpoint's checks, on the code as oidc-provider stored it.
    const { AuthorizationCode } = deps.provider()
    const value = String(ctx.query.code ?? '')
    const code = await AuthorizationCode.find(value)
    // Used up atomically (a used code is refused here too): of two callbacks racing with one code, one wins.
    if (!code || code.clientId !== ACCOUNT_CLIENT_ID || code.redirectUri !== accountRedirectUri(deps.issuer)
      || code.codeChallenge !== s256(login.verifier) || code.nonce !== login.nonce || !code.accountId || !code.sessionUid || !code.authTime
      || !(await (AuthorizationCode.adapter as PostgresAdapter).consumeOnce(value))) {
      throw invalidRequest('the sign-in code is not valid: open /account again')
    }
    const certificate = await deps.loginCertificate({ sessionUid: code.sessionUid, authTime: code.authTime })
    if (!certificate) throw invalidRequest('the certificate of this sign-in is not known: open /account again')
    const token = await deps.sessions.create(code.accountId, certificate.serial, code.sessionUid)
    ctx.cookies.set(SESSION_COOKIE, token, cookie('/account', ACCOUNT_SESSION_SECONDS))
    ctx.status = 303
    ctx.redirect('/account')
  })

  router.add('POST', '/account/logout', 'account_logout', noStore, signedInForm, async (ctx) => {
    const { token } = portal.get(ctx)
    await deps.sessions.end(token)
    ctx.cookies.set(SESSION_COOKIE, '', { ...cookie('/account', 0), maxAge: 0 })
    render(ctx, 'account-signed-out', 'account.signed_out_title', {}, '/account')
  })

  router.add('GET', '/account/certificates/:serial', 'account_certificate', noStore, async (ctx, { serial = '' }) => {
    const found = await sessionOf(ctx)
    if (!found) return startLogin(ctx)
    const certificate = await service.certificate(found.session.subscriberId, serial)
    // Renewal is offered when it can be done, not a year before (the date it opens instead).
    const { opensAt } = deps.authority.renewalWindow(certificate)
    render(ctx, 'account-certificate', 'account.certificate_title', {
      certificate: certificateView(certificate, locale(ctx), views), pemHref: `/account/certificates/${certificate.serial}/pem`, csrf: found.csrf,
      renewOpen: deps.clock.now() >= opensAt, renewOpensAt: day(opensAt), current: certificate.serial === found.session.certificateSerial,
      reasons: SUBSCRIBER_REVOCATION_REASONS.map((value) => ({ value, label: views.message(locale(ctx), `account.reason.${value}`) })),
      file: certificate.holder === 'file', scripts: certificate.holder === 'file' ? ['/assets/enroll-done.js'] : [], issued: ctx.query.issued === '1',
      browserCopyMessages: views.scriptMessages(locale(ctx), ['loginjs.'], []),
    })
  })

  router.add('GET', '/account/certificates/:serial/pem', 'account_certificate_pem', noStore, async (ctx, { serial = '' }) => {
    const found = await sessionOf(ctx)
    if (!found) return startLogin(ctx)
    const certificate = await service.certificate(found.session.subscriberId, serial)
    const base64 = certificate.der.toString('base64').replace(/.{1,64}/g, '$&\n')
    // Named apart from the backup file (postcert-<serial>.pem), which also holds the key.
    ctx.set('Content-Disposition', `attachment; filename="postcert-certificate-${certificate.serial}.pem"`)
    ctx.type = 'application/x-pem-file'
    ctx.body = `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`
  })

  for (const action of CERTIFICATE_ACTIONS) {
    router.add('POST', `/account/certificates/:serial/${action}`, `account_certificate_${action}`, noStore, signedInForm, async (ctx, { serial = '' }) => {
      const { session, form } = portal.get(ctx)
      const changed = await changeCertificateStatus(deps.authority, session.subscriberId, serial, action, form)
      // The portal's own login certificate no longer valid: the CA ended the portal session with
      // it (and the PostCert session); the cookie goes too.
      const signedOut = changed.serial === session.certificateSerial && changed.status !== 'good'
      if (signedOut) ctx.cookies.set(SESSION_COOKIE, '', { ...cookie('/account', 0), maxAge: 0 })
      const lang = locale(ctx)
      render(ctx, 'account-certificate-changed', 'account.changed_title', {
        certificate: certificateView(await service.certificate(session.subscriberId, changed.serial), lang, views),
        message: views.message(lang, `account.changed.${action}`), reissue: changed.status === 'revoked', signedOut,
      }, `/account/certificates/${changed.serial}`)
    })
  }

  router.add('POST', '/account/institutions/:clientId/revoke', 'account_institution_revoke', noStore, signedInForm, async (ctx, { clientId = '' }) => {
    const { session, form } = portal.get(ctx)
    // Not in one click: the institution loses what it was given and asks to register at the next login there.
    if (form.get('confirm') !== 'yes') throw invalidRequest('tick the box to confirm: the institution loses what it was given, and asks you to register again at your next login there')
    await deps.registrations.revoke(session.subscriberId, clientId)
    ctx.status = 303
    ctx.redirect(`/account?revoked=${encodeURIComponent(clientId)}`)
  })

  router.add('GET', '/account/activity', 'account_activity', noStore, async (ctx) => {
    const found = await sessionOf(ctx)
    if (!found) return startLogin(ctx)
    const lang = locale(ctx)
    const before = typeof ctx.query.before === 'string' && /^\d{1,15}$/.test(ctx.query.before) ? Number(ctx.query.before) : undefined
    const page = await service.activity(found.session.subscriberId, before)
    const names = await institutionNames(deps.provider(), lang, page.entries.flatMap((e) => (e.clientId ? [e.clientId] : [])))
    render(ctx, 'account-activity', 'account.activity_title', {
      entries: page.entries.map((e) => activityView(e, lang, views, names)),
      nextHref: page.next ? `/account/activity?before=${page.next}` : undefined,
    })
  })
}

/** The institutions' names in the page's language. */
async function institutionNames(provider: Provider, lang: Locale, clientIds: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(clientIds)]
  const clients = await Promise.all(unique.map((id) => provider.Client.find(id)))
  return new Map(unique.map((id, i) => [id, displayName(clients[i], lang, id)]))
}

function activityView(e: Awaited<ReturnType<AccountService['activity']>>['entries'][number], lang: Locale, views: Views, names: Map<string, string>) {
  const key = `account.event.${e.type}`
  return {
    at: time(e.at), what: views.has(lang, key) ? views.message(lang, key) : e.type,
    institution: e.clientId ? names.get(e.clientId) ?? e.clientId : undefined,
    serial: e.serial ? `${e.serial.slice(0, 8)}…` : undefined, ip: e.ip, device: e.device,
  }
}
