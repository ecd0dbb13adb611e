import { randomBytes } from 'node:crypto'
import type { Context } from 'koa'
import type { Csrf } from '../http/csrf.ts'
import { base64urlField, readForm, readJson } from '../http/form.ts'
import type { HolderBinding } from '../holders/binding.ts'
import { isInUse, type CertificateAuthority } from '../ca/authority.ts'
import type { Clock } from '../util/clock.ts'
import { CERTIFICATE_ACTIONS, changeCertificateStatus, SUBSCRIBER_REVOCATION_REASONS } from '../ca/certificate-actions.ts'
import type { Router } from '../http/router.ts'
import { noteError } from '../http/request-context.ts'
import { noStore, slot, type Step } from '../http/guards.ts'
import { ACR_HIGH, assuranceOf } from '../possession/assurance.ts'
import { languageSwitch, pickLocale, scriptJson, type Locale, type Views } from '../http/views.ts'
import { ENROLLMENT_TTL } from './constants.ts'
import { EnrollmentError, enrollmentExpired, InvalidFieldsError, stepNotAllowed } from './errors.ts'
import { FormError } from '../errors/form-error.ts'
import { PhoneError } from '../phone/errors.ts'
import type { Enrollment, EnrollmentService } from './enrollment-service.ts'
import { DOCUMENT_TYPES } from './identity-form.ts'
import { formatKoreanMobile } from '../phone/phone-number.ts'
import type { SandboxSmsGateway } from '../phone/sms/sandbox-sms-gateway.ts'
import type { CodeCountdown } from '../phone/phone-codes.ts'
import { daysLeft } from '../ca/days-left.ts'
import { koreanClock, koreanDate } from '../util/korean-time.ts'

const COOKIE = 'postcert_enroll'
const START_COOKIE = 'postcert_enroll_start'
/** The login (interaction uid) whose page sent the subscriber here: the done page leads back to it. */
const FROM_COOKIE = 'postcert_enroll_from'
const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/

export interface EnrollmentRouteDeps {
  service: EnrollmentService
  views: Views
  csrf: Csrf
  secureCookies: boolean
  /** Present only when the sandbox SMS gateway is in use. */
  sandboxOutbox: SandboxSmsGateway | undefined
  sandbox: boolean
  binding: HolderBinding
  authority: CertificateAuthority
  clock: Clock
  /** The institution's name, in `lang`, of a login still waiting under this uid; undefined when there is none. */
  waitingLogin: (uid: string, lang: Locale) => Promise<string | undefined>
}

/**
 * /enroll: the issuance journey, one page per step (ko by default, en with ui_locales=en).
 * Every POST carries a CSRF token bound to the enrollment; the cookie is HttpOnly, SameSite=Lax,
 * Secure with an https issuer, and lives as long as the enrollment (15 minutes).
 */
export function addEnrollmentRoutes(router: Router, deps: EnrollmentRouteDeps): void {
  const { service, views, csrf } = deps

  const locale = (ctx: Context): Locale => pickLocale(ctx.query.ui_locales, (langs) => ctx.acceptsLanguages(langs))
  /** Keeps an explicit language choice across links and redirects. */
  const href = (ctx: Context, path: string) => (typeof ctx.query.ui_locales === 'string' ? `${path}?ui_locales=${encodeURIComponent(ctx.query.ui_locales)}` : path)
  /** Renders a page; `at` is its own address when a form post renders it again (the language switch links there). */
  const render = (ctx: Context, page: string, titleKey: string, data: Record<string, unknown>, at?: string) => {
    const lang = locale(ctx)
    ctx.type = 'html'
    ctx.body = views.render(page, lang, titleKey, { sandbox: deps.sandbox, ...languageSwitch(ctx, lang, at), ...data })
  }
  const cookieOptions = (maxAgeMs: number) => ({ httpOnly: true, sameSite: 'lax' as const, secure: deps.secureCookies, path: '/enroll', maxAge: maxAgeMs, overwrite: true })
  /** The page's message, and for a form with fields to fix each field's own (`problems`, in the form's order). */
  const errorView = (ctx: Context, err: FormError | PhoneError | EnrollmentError) => {
    const lang = locale(ctx)
    const label = (field: string | undefined) => field ? views.message(lang, `enroll.field.${field}`) : ''
    const problems = err instanceof InvalidFieldsError
      ? err.problems.map((p) => ({ field: p.field, message: views.format(lang, `enroll.problem.${p.problem}`, { label: label(p.field) }) }))
      : []
    return { field: err.field, message: views.format(lang, `enroll.error.${err.code}`, { ...err.params, label: label(err.field), count: problems.length }), problems }
  }

  /** The code's countdown on the page (views/partials/code-countdown.hbs), run down by its script. */
  const countdownView = (code: CodeCountdown, lang: Locale) => ({
    countdown: { expiresIn: code.expiresIn, resendIn: code.resendIn, until: koreanClock(code.expiresAt) },
    timerMessages: views.scriptMessages(lang, ['timer.'], []), scripts: ['/assets/code-timer.js'],
  })

  async function current(ctx: Context): Promise<Enrollment> {
    const enrollment = await service.find(ctx.cookies.get(COOKIE))
    if (!enrollment) throw enrollmentExpired()
    return enrollment
  }

  /** Runs a step's POST; a fixable error re-renders its page with the message and status. */
  async function post(ctx: Context, step: Enrollment['step'], action: (enrollment: Enrollment, form: URLSearchParams) => Promise<string>, rerender: (enrollment: Enrollment, form: URLSearchParams, error: ReturnType<typeof errorView>) => Promise<void>) {
    const form = await readForm(ctx)
    const enrollment = await current(ctx)
    csrf.verify(`enroll:${enrollment.id}`, form.get('csrf'))
    if (enrollment.step !== step) throw stepNotAllowed(enrollment.step)
    try {
      const next = await action(enrollment, form)
      ctx.status = 303
      ctx.redirect(href(ctx, next))
    } catch (err) {
      // What the subscriber can fix on this page; the step or the enrollment gone is an error page.
      if (!(err instanceof FormError || err instanceof PhoneError || err instanceof EnrollmentError) || err.kind === 'step_not_allowed' || err.kind === 'enrollment_expired') throw err
      ctx.status = err.status
      noteError(ctx, err.code)
      await rerender((await service.find(ctx.cookies.get(COOKIE))) ?? enrollment, form, errorView(ctx, err))
    }
  }

  router.add('GET', '/enroll', 'enroll', noStore, async (ctx) => {
    // A login page's "get a certificate" names its login; only a uid's shape is kept, never an address.
    const from = ctx.query.from
    if (typeof from === 'string' && INTERACTION_UID.test(from)) ctx.cookies.set(FROM_COOKIE, from, cookieOptions(2 * ENROLLMENT_TTL * 1000))
    const enrollment = await service.find(ctx.cookies.get(COOKIE))
    // One under way goes on where it is; a finished one does not stand in the way of the next.
    if (enrollment && enrollment.step !== 'done') {
      ctx.status = 303
      return ctx.redirect(href(ctx, `/enroll/${enrollment.step}`))
    }
    const nonce = randomBytes(16).toString('base64url')
    ctx.cookies.set(START_COOKIE, nonce, cookieOptions(ENROLLMENT_TTL * 1000))
    render(ctx, 'enroll-start', 'enroll.title', { action: href(ctx, '/enroll/start'), csrf: csrf.token(`enroll-start:${nonce}`) })
  })

  router.add('POST', '/enroll/start', 'enroll_start', noStore, async (ctx) => {
    const form = await readForm(ctx)
    csrf.verify(`enroll-start:${ctx.cookies.get(START_COOKIE) ?? ''}`, form.get('csrf'))
    const { token } = await service.start(ctx.ip)
    ctx.cookies.set(COOKIE, token, cookieOptions(ENROLLMENT_TTL * 1000))
    ctx.cookies.set(START_COOKIE, '', { ...cookieOptions(0), maxAge: 0 })
    ctx.status = 303
    ctx.redirect(href(ctx, '/enroll/phone'))
  })

  const phonePage = async (ctx: Context, enrollment: Enrollment, data: { phone?: string; error?: unknown } = {}) => {
    const code = await service.codeSent(enrollment)
    render(ctx, 'enroll-phone', 'enroll.phone.title', {
      step: 'phone', stepNumber: 1, csrf: csrf.token(`enroll:${enrollment.id}`),
      sendAction: href(ctx, '/enroll/phone/send'), verifyAction: href(ctx, '/enroll/phone/verify'),
      sent: Boolean(code), ...(code ? countdownView(code, locale(ctx)) : {}), sentTo: enrollment.phone_e164 ? formatKoreanMobile(enrollment.phone_e164) : '',
      phone: data.phone ?? (enrollment.phone_e164 ? formatKoreanMobile(enrollment.phone_e164) : ''), ...data,
    }, '/enroll/phone')
  }

  // "처음부터 다시" on every step: the enrollment ends and a new one can start (no step is a dead end).
  router.add('POST', '/enroll/restart', 'enroll_restart', noStore, async (ctx) => {
    const form = await readForm(ctx)
    const enrollment = await service.find(ctx.cookies.get(COOKIE))
    if (enrollment) {
      csrf.verify(`enroll:${enrollment.id}`, form.get('csrf'))
      await service.abandon(enrollment)
    }
    ctx.cookies.set(COOKIE, '', { ...cookieOptions(0), maxAge: 0 })
    ctx.status = 303
    ctx.redirect(href(ctx, '/enroll'))
  })

  router.add('GET', '/enroll/phone', 'enroll_phone', noStore, async (ctx) => {
    const enrollment = await current(ctx)
    if (enrollment.step !== 'phone') return redirectToStep(ctx, enrollment)
    await phonePage(ctx, enrollment)
  })

  router.add('POST', '/enroll/phone/send', 'enroll_phone_send', noStore, async (ctx) => {
    await post(ctx, 'phone',
      async (enrollment, form) => { await service.sendCode(enrollment, form.get('phone') ?? '', ctx.ip); return '/enroll/phone' },
      async (enrollment, form, error) => phonePage(ctx, enrollment, { phone: form.get('phone') ?? '', error }))
  })

  router.add('POST', '/enroll/phone/verify', 'enroll_phone_verify', noStore, async (ctx) => {
    await post(ctx, 'phone',
      async (enrollment, form) => { await service.verifyCode(enrollment, form.get('code') ?? ''); return '/enroll/identity' },
      async (enrollment, _form, error) => phonePage(ctx, enrollment, { error }))
  })

  const identityPage = async (ctx: Context, enrollment: Enrollment, data: { values?: Record<string, string>; error?: ReturnType<typeof errorView> } = {}) => {
    const lang = locale(ctx)
    const chosen = (DOCUMENT_TYPES as readonly string[]).includes(data.values?.document_type ?? '') ? data.values!.document_type! : 'resident_card'
    // Where each problem's link in the summary leads, and the focus goes: the box the subscriber types in.
    const target = (field: string) => field === 'document_type' ? `document_type-${chosen}` : field === 'number' && chosen === 'resident_card' ? 'number_front' : field
    const problems = (data.error?.problems ?? []).map((p) => ({ ...p, target: target(p.field) }))
    render(ctx, 'enroll-identity', 'enroll.identity.title', {
      step: 'identity', stepNumber: 2, csrf: csrf.token(`enroll:${enrollment.id}`), action: href(ctx, '/enroll/identity'),
      documentTypes: DOCUMENT_TYPES.map((value) => ({ value, id: `document_type-${value}`, label: views.message(lang, `enroll.document.${value}`), checked: value === chosen })),
      values: data.values ?? {}, error: data.error && { ...data.error, problems },
      fieldErrors: Object.fromEntries(problems.map((p) => [p.field, p.message])), focus: problems[0]?.target,
    }, '/enroll/identity')
  }

  router.add('GET', '/enroll/identity', 'enroll_identity', noStore, async (ctx) => {
    const enrollment = await current(ctx)
    if (enrollment.step !== 'identity') return redirectToStep(ctx, enrollment)
    await identityPage(ctx, enrollment)
  })

  router.add('POST', '/enroll/identity', 'enroll_identity_submit', noStore, async (ctx) => {
    await post(ctx, 'identity',
      async (enrollment, form) => { await service.verifyIdentity(enrollment, form, ctx.ip); return '/enroll/holder' },
      // After the last attempt the enrollment is back at the phone: that page, with the reason.
      async (enrollment, form, error) => enrollment.step === 'phone' ? phonePage(ctx, enrollment, { error }) : identityPage(ctx, enrollment, {
        // Everything but the document number comes back, so nothing has to be typed twice.
        values: { document_type: form.get('document_type') ?? '', name: form.get('name') ?? '', birthdate: form.get('birthdate') ?? '', issue_date: form.get('issue_date') ?? '' },
        error,
      }))
  })

  router.add('GET', '/enroll/holder', 'enroll_holder', noStore, async (ctx) => {
    const enrollment = await current(ctx)
    if (enrollment.step !== 'holder') return redirectToStep(ctx, enrollment)
    const subscriber = await service.subscriber(enrollment)
    const existing = subscriber ? await service.validCertificates(subscriber.id) : []
    const lang = locale(ctx)
    // Identity proven again: the certificates in use (or suspended) can be revoked or suspended
    // here, for a lost device or a forgotten password, before a new one is issued.
    const now = deps.clock.now()
    const manageable = subscriber ? (await deps.authority.listBySubscriber(subscriber.id)).filter((c) => isInUse(c, now)) : []
    const changed = typeof ctx.query.changed === 'string' ? manageable.find((c) => c.serial === ctx.query.changed) : undefined
    render(ctx, 'enroll-holder', 'enroll.holder.title', {
      step: 'holder', stepNumber: 3, name: subscriber?.name ?? '', existingCount: existing.length,
      manage: manageable.map((c) => ({
        serial: c.serial, shortSerial: `${c.serial.slice(0, 8)}…`, holder: views.message(lang, `account.holder.${c.holder}`),
        notAfter: c.notAfter.toISOString().slice(0, 10), suspended: c.status === 'hold',
        statusText: views.message(lang, `account.status.${c.status === 'hold' ? 'suspended' : 'good'}`),
      })),
      changed: typeof ctx.query.changed === 'string'
        ? views.format(lang, 'enroll.holder.changed', { serial: `${ctx.query.changed.slice(0, 8)}…`, status: views.message(lang, `account.status.${changed ? (changed.status === 'hold' ? 'suspended' : 'good') : 'revoked'}`) })
        : undefined,
      reasons: SUBSCRIBER_REVOCATION_REASONS.map((value) => ({ value, label: views.message(lang, `account.reason.${value}`) })),
      csrf: csrf.token(`enroll:${enrollment.id}`), scripts: ['/assets/enroll-holder.js'],
      holderMessages: scriptJson(views.messagesWithPrefix(locale(ctx), 'holder.')),
    })
  })

  for (const action of CERTIFICATE_ACTIONS) {
    router.add('POST', `/enroll/certificates/:serial/${action}`, `enroll_certificate_${action}`, noStore, async (ctx, { serial = '' }) => {
      const enrollment = await current(ctx)
      const form = await readForm(ctx)
      csrf.verify(`enroll:${enrollment.id}`, form.get('csrf'))
      if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
      const subscriber = await service.subscriber(enrollment)
      if (!subscriber) throw stepNotAllowed(enrollment.step)
      const changed = await changeCertificateStatus(deps.authority, subscriber.id, serial, action, form)
      const query = new URLSearchParams({ changed: changed.serial, ...(typeof ctx.query.ui_locales === 'string' ? { ui_locales: ctx.query.ui_locales } : {}) })
      ctx.status = 303
      ctx.redirect(`/enroll/holder?${query}`)
    })
  }

  /** Guard of the holder step's JSON endpoints: the enrollment's cookie, its CSRF token in a header, the step (holderStep.get). */
  const holderStep = slot<Enrollment>('enrollment at the holder step')
  const holderApi: Step = async (ctx) => {
    const enrollment = await current(ctx)
    csrf.verify(`enroll:${enrollment.id}`, ctx.get('x-csrf-token') || null)
    if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
    holderStep.set(ctx, enrollment)
  }

  router.add('POST', '/enroll/holder/challenge', 'enroll_holder_challenge', noStore, holderApi, async (ctx) => {
    const enrollment = holderStep.get(ctx)
    ctx.body = { challenge: (await service.holderChallenge(enrollment)).toString('base64url') }
  })

  router.add('POST', '/enroll/holder/file', 'enroll_holder_file', noStore, holderApi, async (ctx) => {
    const enrollment = holderStep.get(ctx)
    const body = await readJson(ctx)
    const certificate = await service.completeWithFile(enrollment, {
      spki: base64urlField(body, 'spki'), signature: base64urlField(body, 'signature'), challenge: base64urlField(body, 'challenge', 64),
    })
    ctx.body = await deps.binding.issuedFile(certificate, (await service.subscriber(enrollment))?.name ?? '', href(ctx, '/enroll/done'))
  })

  router.add('POST', '/enroll/holder/passkey/options', 'enroll_holder_passkey_options', noStore, holderApi, async (ctx) => {
    const enrollment = holderStep.get(ctx)
    const { registration, challenge } = await service.passkeyOptions(enrollment)
    ctx.body = { registration, challenge: challenge.toString('base64url') }
  })

  router.add('POST', '/enroll/holder/passkey', 'enroll_holder_passkey', noStore, holderApi, async (ctx) => {
    const enrollment = holderStep.get(ctx)
    const body = await readJson(ctx)
    const certificate = await service.completeWithPasskey(enrollment, {
      registration: body.registration, assertion: body.assertion, challenge: base64urlField(body, 'challenge', 64),
    })
    ctx.body = { serial: certificate.serial, next: href(ctx, '/enroll/done') }
  })

  router.add('GET', '/enroll/done', 'enroll_done', noStore, async (ctx) => {
    const enrollment = await current(ctx)
    if (enrollment.step !== 'done') return redirectToStep(ctx, enrollment)
    const certificate = (await service.certificate(enrollment))!
    const lang = locale(ctx)
    const days = daysLeft(certificate.notAfter, deps.clock.now())
    const level = assuranceOf(certificate.holder, await service.attested(certificate.serial)).acr === ACR_HIGH ? 'high' : 'substantial'
    // The certificate as it is now: revoked or suspended since (a lost phone reported at once), the page says so.
    const inUse = certificate.status === 'good'
    const from = ctx.cookies.get(FROM_COOKIE)
    const institution = inUse && from && INTERACTION_UID.test(from) ? await deps.waitingLogin(from, lang) : undefined
    render(ctx, 'enroll-done', 'enroll.done.title', {
      step: 'done', stepNumber: 4, serial: certificate.serial, inUse,
      statusNow: inUse ? undefined : views.message(lang, `enroll.done.status_${certificate.status === 'hold' ? 'suspended' : 'revoked'}`),
      backToLogin: institution && { href: `/interaction/${from}`, institution },
      holder: views.message(lang, `enroll.holder.${certificate.holder}_label`), file: certificate.holder === 'file', backup: certificate.holder === 'file' && inUse,
      level: views.message(lang, `assurance.${level}`), levelHelp: views.message(lang, `assurance.${level}_help`),
      notBefore: koreanDate(certificate.notBefore), notAfter: koreanDate(certificate.notAfter), days,
      scripts: certificate.holder === 'file' && inUse ? ['/assets/enroll-done.js'] : [],
      browserCopyMessages: views.scriptMessages(lang, ['loginjs.'], []),
    })
  })

  if (deps.sandboxOutbox) {
    const outbox = deps.sandboxOutbox
    router.add('GET', '/sandbox/sms', 'sandbox_sms', noStore, async (ctx) => {
      const messages = await outbox.outbox()
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.body = { messages: messages.map((m) => ({ to: m.to, body: m.body, sent_at: m.sentAt.toISOString() })) }
        return
      }
      render(ctx, 'sandbox-sms', 'sandbox.title', { sms: messages.map((m) => ({ ...m, sentAt: m.sentAt.toISOString() })) })
    })
  }

  function redirectToStep(ctx: Context, enrollment: Enrollment) {
    ctx.status = 303
    ctx.redirect(href(ctx, `/enroll/${enrollment.step}`))
  }
}
