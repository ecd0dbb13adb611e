import type { Context } from 'koa'
import { errors, type default as Provider } from 'oidc-provider'
import type { AuditLog } from '../audit/audit-log.ts'
import type { Database } from '../db/database.ts'
import type { Registrations } from '../registrations/registrations.ts'
import type { Clock } from '../util/clock.ts'
import { INTERACTION_REFUSALS, interactionExpired, invalidRequest } from '../errors/errors.ts'
import type { Csrf } from '../http/csrf.ts'
import { readForm, readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { noteClient } from '../http/request-context.ts'
import { noStore, slot, type Step } from '../http/guards.ts'
import { languageSwitch, pickLocale, scriptJson, type Views } from '../http/views.ts'
import type { LoginResult, LoginService } from '../login/login-service.ts'
import { meets, passkeyOnly, requiredAcr, unsatisfiable } from '../possession/assurance.ts'
import { acrNotMet, PossessionError } from '../possession/errors.ts'
import { displayName, releasableTo } from '../oidc/client-policy.ts'
import { deviceOf, truncatedIp } from '../audit/client-info.ts'
import type { TestSubscriber } from '../login/test-subscriber.ts'
import type { SigningService } from '../signing/signing-service.ts'
import type { ConsentDefaults } from '../config/config.ts'
import { consentTerms, declinedScopes } from './consent-terms.ts'
import { addSigningRoutes, renderSigningPage, signatureRequestOf, signingHandoff, type SigningRouteDeps } from './signing.ts'
import { asText } from '../util/text.ts'
import { daysLeft } from '../ca/days-left.ts'
import { releasedClaims } from '../oidc/scope-claims.ts'
import type { RequestRows } from '../db/request-rows.ts'

export interface InteractionDeps {
  db: Database
  provider: () => Provider
  views: Views
  csrf: Csrf
  login: LoginService
  audit: AuditLog
  /** What a request holds for its next statement (a login's audit event goes with its result). */
  requests: RequestRows
  registrations: Registrations
  issuer: string
  clock: Clock
  /** Certificates expiring within this many days get the renewal notice at login. */
  renewalWindowDays: number
  signing: SigningService
  /** The pairwise subject a client knows a subscriber by. */
  subjectFor: (clientId: string, subscriberId: string) => Promise<string>
  /** Test mode only (POSTCERT_TEST_MODE): the sandbox subscriber a scripted browser logs in as. */
  testSubscriber?: TestSubscriber
  /** The registration page's purpose and retention where the institution registered none (config). */
  consentDefaults: ConsentDefaults
}

/** The refusals the login endpoints answer with, shown by the page in its language (views/locales `error.<code>`). */
export const LOGIN_ERRORS = [...PossessionError.codes, ...INTERACTION_REFUSALS]

/**
 * /interaction/:uid: where oidc-provider sends the browser. Login is a proof of possession of
 * the certificate (JSON endpoints used by the page's script); registration at the institution is
 * the consent, shown the first time and with prompt=consent.
 */
export function addInteractionRoutes(router: Router, deps: InteractionDeps): void {
  const signing: SigningRouteDeps = {
    provider: deps.provider, views: deps.views, csrf: deps.csrf, signing: deps.signing, registrations: deps.registrations, audit: deps.audit,
    subjectFor: deps.subjectFor, interactionDetails,
  }
  addSigningRoutes(router, signing)

  // ui_locales of the authorization request, overridden by the page's own language switch.
  const locale = (ctx: Context, params?: Record<string, unknown>) => pickLocale(ctx.query.ui_locales ?? params?.ui_locales, (langs) => ctx.acceptsLanguages(langs))

  router.add('GET', '/interaction/:uid', 'interaction', noStore, async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const details = await interactionDetails(provider, ctx, uid)
    const clientId = asText(details.params.client_id)
    const client = await provider.Client.find(clientId)
    const lang = locale(ctx, details.params)
    // The institution as registered (name, logo) and the claims its request would release.
    const scopes = asText(details.params.scope).split(' ')
    const claims = releasedClaims(scopes)
      .filter((c) => releasableTo(client, c))
      .map((c) => deps.views.message(lang, `consent.claim.${c}`))
    // Registered as https (client-policy.ts); checked again, as these become links and an image.
    const https = (uri: string | undefined) => (uri?.startsWith('https://') ? uri : undefined)
    const common = {
      uid, csrf: deps.csrf.token(`interaction:${uid}`), clientName: displayName(client, lang, clientId), claims,
      logo: https(client?.logoUri), policyUri: https(client?.policyUri), tosUri: https(client?.tosUri),
    }
    ctx.type = 'html'
    if (details.prompt.name === 'consent') {
      const request = signatureRequestOf(details)
      ctx.body = request
        ? await renderSigningPage(signing, { lang, details, request, common: { ...common, ...languageSwitch(ctx, lang) } })
        : deps.views.render('consent', lang, 'consent.title', { ...common, ...languageSwitch(ctx, lang), terms: consentTerms({ client, scopes, lang, views: deps.views, defaults: deps.consentDefaults }) })
      return
    }
    // A level no holder has (an essential acr PostCert does not know): the institution is told at once.
    if (unsatisfiable(details.params)) {
      ctx.status = 303
      return ctx.redirect(await unmet(provider, ctx))
    }
    // The first single-use challenge comes with the page, saving the browser a request.
    const challenge = deps.login.createChallenge(uid)
    ctx.body = deps.views.render('interaction', lang, 'interaction.title', {
      loginChallenge: scriptJson({ challenge, passkey: deps.login.passkeyOptions(challenge) }),
      ...common, scripts: ['/assets/login.js'], issuer: deps.issuer, loginHint: serialHint(details.params.login_hint), handoff: signingHandoff(details), passkeyOnly: passkeyOnly(details.params), ...languageSwitch(ctx, lang),
      // The login script's texts, with the refusals the login endpoints answer with.
      loginMessages: deps.views.scriptMessages(lang, ['loginjs.'], LOGIN_ERRORS),
      testMode: Boolean(deps.testSubscriber),
    })
  })

  /**
   * Guards of the login page's endpoints: the interaction behind the cookie, the page's CSRF
   * token (in a header for the script's JSON, in the form for its buttons), a login awaited
   * (loginStep.get).
   */
  const loginStep = slot<{ provider: Provider; details: LoadedInteraction }>('interaction awaiting a login')
  const loginGuard = (csrfOf: (ctx: Context) => Promise<string | null>): Step => async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const details = await interactionDetails(provider, ctx, uid)
    deps.csrf.verify(`interaction:${uid}`, await csrfOf(ctx))
    if (details.prompt.name !== 'login') throw invalidRequest('this sign-in request is not waiting for a login')
    loginStep.set(ctx, { provider, details })
  }
  const loginApi = loginGuard(async (ctx) => ctx.get('x-csrf-token') || null)
  const loginForm = loginGuard(async (ctx) => (await readForm(ctx)).get('csrf'))

  router.add('POST', '/interaction/:uid/challenge', 'interaction_challenge', noStore, loginApi, async (ctx, { uid = '' }) => {
    // One single-use challenge: whichever holder answers it first uses it up.
    const challenge = deps.login.createChallenge(uid)
    ctx.body = { challenge, passkey: deps.login.passkeyOptions(challenge) }
  })

  /** Ends the interaction telling the institution that no holder of the subscriber meets the level it asked for. */
  const unmet = async (provider: Provider, ctx: Context) => await provider.interactionResult(ctx.req, ctx.res,
    { error: 'unmet_authentication_requirements', error_description: 'the subscriber has no certificate holder that gives the requested assurance level' },
    { mergeWithLastSubmission: false })

  const finishLogin = async (ctx: Context, details: LoadedInteraction, result: LoginResult) => {
    const clientId = String(details.params.client_id)
    const required = requiredAcr(details.params)
    if (!meets(result.acr, required)) {
      // Never a lower level than asked: another holder of theirs may meet it (try it), or none
      // can, and the institution is told so (OpenID Connect's unmet_authentication_requirements).
      if (await deps.login.canMeet(result.subscriberId, required!)) throw acrNotMet()
      ctx.body = { redirect: await unmet(deps.provider(), ctx) }
      return
    }
    // Written with the interaction's result, in its statement: the event exists exactly when the login does.
    await deps.audit.recordAlong(deps.requests, deps.db, {
      type: 'login', subscriberId: result.subscriberId, certificateSerial: result.serial,
      data: { client: clientId, holder: result.holder, acr: result.acr, ip: truncatedIp(ctx.ip), device: deviceOf(ctx.get('user-agent')) },
    })
    // What provider.interactionResult does, on the interaction this request already loaded
    // (interactionResult would read it and check its cookie a second time).
    details.result = { login: { accountId: result.subscriberId, acr: result.acr, amr: result.amr, remember: true, certificateSerial: result.serial } }
    await details.save(details.exp - Math.floor(Date.now() / 1000))
    const redirect = details.returnTo
    // Expiring soon: a notice first (not blocking), then on to the institution.
    const left = daysLeft(result.notAfter, deps.clock.now())
    ctx.body = left <= deps.renewalWindowDays
      ? { redirect: `/interaction/${details.uid}/expiring?days=${left}&next=${encodeURIComponent(new URL(redirect).pathname)}` }
      : { redirect }
  }

  router.add('GET', '/interaction/:uid/expiring', 'interaction_expiring', noStore, async (ctx, { uid = '' }) => {
    const next = String(ctx.query.next ?? '')
    const days = Number(ctx.query.days)
    // Only the resume path of this very interaction: never an open redirect.
    if (next !== `/auth/${uid}` || !Number.isInteger(days) || days < 0 || days > 366) throw invalidRequest('not a valid notice')
    const lang = locale(ctx)
    ctx.type = 'html'
    ctx.body = deps.views.render('expiring', lang, 'expiring.title', { days, next })
  })

  router.add('POST', '/interaction/:uid/login/file', 'interaction_login_file', noStore, loginApi, async (ctx, { uid = '' }) => {
    const { details } = loginStep.get(ctx)
    const body = await readJson(ctx)
    if (typeof body.proof !== 'string') throw invalidRequest('proof must be a compact JWS')
    await finishLogin(ctx, details, await deps.login.verifyFileProof(uid, body.proof, ctx.ip))
  })

  // Test mode: one click logs in the sandbox subscriber, through the same proof check as the page.
  const testSubscriber = deps.testSubscriber
  if (testSubscriber) {
    router.add('POST', '/interaction/:uid/test-login', 'interaction_test_login', noStore, loginForm, async (ctx, { uid = '' }) => {
      const { details } = loginStep.get(ctx)
      const challenge = deps.login.createChallenge(uid)
      await finishLogin(ctx, details, await deps.login.verifyFileProof(uid, await testSubscriber.proof(uid, challenge), ctx.ip))
      ctx.status = 303
      ctx.redirect((ctx.body as { redirect: string }).redirect)
    })
  }

  router.add('POST', '/interaction/:uid/login/passkey', 'interaction_login_passkey', noStore, loginApi, async (ctx, { uid = '' }) => {
    const { details } = loginStep.get(ctx)
    const body = await readJson(ctx)
    if (typeof body.assertion !== 'object' || body.assertion === null) throw invalidRequest('assertion must be a WebAuthn response')
    await finishLogin(ctx, details, await deps.login.verifyPasskey(uid, body.assertion as never, ctx.ip))
  })

  router.add('POST', '/interaction/:uid/consent', 'interaction_consent', noStore, async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const form = await readForm(ctx)
    const details = await interactionDetails(provider, ctx, uid)
    deps.csrf.verify(`interaction:${uid}`, form.get('csrf'))
    if (details.prompt.name !== 'consent' || !details.session?.accountId) throw invalidRequest('this sign-in request is not waiting for consent')
    if (form.get('decision') !== 'approve') {
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the subscriber did not register the certificate with this institution' }, { mergeWithLastSubmission: false })
      ctx.status = 303
      return ctx.redirect(returnTo)
    }
    if (signatureRequestOf(details)) throw invalidRequest('this request asks for a signature: sign it on the signing page')
    // The PostCert session must still stand: its certificate may have been revoked or suspended
    // while this page was open (the session is then gone), and nothing is registered for it.
    if (!details.session.uid || !(await provider.Session.findByUid(details.session.uid))) throw interactionExpired()
    // Optional items left unticked are declined: the grant rejects their scopes, and login goes on without them.
    const client = await provider.Client.find(asText(details.params.client_id))
    const declined = declinedScopes(client, asText(details.params.scope).split(' '), form.getAll('optional_scope'))
    const grantId = await deps.registrations.register(provider, details, declined)
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true })
    ctx.status = 303
    ctx.redirect(returnTo)
  })

  // "I have no such passkey": the subscriber cannot meet the level, and the institution is told so.
  router.add('POST', '/interaction/:uid/unmet', 'interaction_unmet', noStore, loginForm, async (ctx) => {
    const { provider, details } = loginStep.get(ctx)
    if (!passkeyOnly(details.params)) throw invalidRequest('this sign-in request asks for no more than any certificate gives')
    ctx.status = 303
    ctx.redirect(await unmet(provider, ctx))
  })

  router.add('POST', '/interaction/:uid/abort', 'interaction_abort', noStore, async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const form = await readForm(ctx)
    await interactionDetails(provider, ctx, uid)
    deps.csrf.verify(`interaction:${uid}`, form.get('csrf'))
    const returnTo = await provider.interactionResult(ctx.req, ctx.res,
      { error: 'access_denied', error_description: 'the subscriber cancelled the login' },
      { mergeWithLastSubmission: false })
    ctx.status = 303
    ctx.redirect(returnTo)
  })
}

/** login_hint names a certificate by its serial (hex); anything else is no hint we can use. */
function serialHint(hint: unknown): string | undefined {
  return typeof hint === 'string' && /^[0-9a-f]{2,40}$/i.test(hint) ? hint.toLowerCase() : undefined
}

type LoadedInteraction = Awaited<ReturnType<Provider['interactionDetails']>>

/** The interaction behind this browser's cookie, which must be the one in the URL. */
async function interactionDetails(provider: Provider, ctx: Context, uid: string): Promise<LoadedInteraction> {
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res)
    if (details.uid !== uid) throw interactionExpired()
    if (typeof details.params.client_id === 'string') noteClient(ctx, details.params.client_id)
    return details
  } catch (err) {
    if (err instanceof errors.SessionNotFound) throw interactionExpired(undefined, { cause: err })
    throw err
  }
}
