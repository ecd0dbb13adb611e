import type { Context } from 'koa'
import { OPERATOR_REVOCATION_REASONS } from '../ca/constants.ts'
import { invalidCsrfToken, PostCertError } from '../errors/errors.ts'
import type { Csrf } from '../http/csrf.ts'
import { readForm, readJson, singleValues } from '../http/form.ts'
import { noStore, slot } from '../http/guards.ts'
import type { Router } from '../http/router.ts'
import { LOCALES, languageSwitch, pickLocale, type Locale, type Views } from '../http/views.ts'
import type { DailyTally } from '../ops/daily-tally.ts'
import type { Clock } from '../util/clock.ts'
import { koreanClock, koreanDate } from '../util/korean-time.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import type { Actor } from './auth.ts'
import { dashboard } from './dashboard.ts'
import { consoleLoginRequired, consoleTooManyAttempts } from './errors.ts'
import { CONSOLE_SESSION_SECONDS, type ConsoleOperator, type Operators } from './operators.ts'

/** Runs an admin route by its operationId for an actor: the console does what the API does, as the operator. */
export type CallAdmin = (operationId: string, raw: { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown }, actor: Actor) => Promise<unknown>

export interface ConsoleDeps {
  operators: Operators
  call: CallAdmin
  views: Views
  csrf: Csrf
  tally: DailyTally
  limiter: RateLimiter
  clock: Clock
}

/** Passkey challenges one address may ask for in a minute (sign-in and invitations alike). */
const CHALLENGES_PER_MINUTE = 20
const LANG_COOKIE = 'postcert_console_lang'
const current = slot<ConsoleOperator>('console operator')
/** What a certificate page may say was just done (?done=, after the action's redirect). */
const DONE = ['revoke', 'suspend', 'resume'] as const

/** The console's times: Korean time, to the minute. */
const koreanTime = (iso: string | null | undefined) => (iso ? `${koreanDate(new Date(iso))} ${koreanClock(new Date(iso))}` : '')

/**
 * The operator console on the management listener: server-rendered pages (ko/en) for people
 * signed in with their passkey. Every action goes through the admin API's routes (CallAdmin)
 * with the operator as the actor, so the audit log, the limits and dual control are the API's.
 * Defences: the session cookie is HttpOnly, SameSite=Strict (and __Host-, Secure on https);
 * every form carries a CSRF token bound to the session, and every POST must come from the
 * console's own origin; passkey challenges are single use and limited per address.
 */
export function addConsoleRoutes(router: Router, deps: ConsoleDeps): void {
  const { operators, views, csrf } = deps
  const secure = () => new URL(operators.origin).protocol === 'https:'
  const cookieName = () => (secure() ? '__Host-postcert_console' : 'postcert_console')
  const setCookie = (ctx: Context, value: string, seconds: number) => {
    // The listener may sit behind a TLS proxy; what the browser sees is the console's origin.
    if (secure()) (ctx.cookies as unknown as { secure: boolean }).secure = true
    ctx.cookies.set(cookieName(), value, { httpOnly: true, sameSite: 'strict', secure: secure(), path: '/', maxAge: seconds * 1000, overwrite: true, signed: false })
  }

  /** The reader's language, worked out once per request (asking for one keeps it in a cookie). */
  const locales = new WeakMap<Context, Locale>()
  const locale = (ctx: Context): Locale => {
    let lang = locales.get(ctx)
    if (lang) return lang
    const asked = typeof ctx.query.ui_locales === 'string' ? pickLocale(ctx.query.ui_locales, () => false) : undefined
    const kept = ctx.cookies.get(LANG_COOKIE)
    if (asked && ctx.query.ui_locales === asked) {
      ctx.cookies.set(LANG_COOKIE, asked, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 365 * 86400_000, signed: false })
      lang = asked
    } else if ((LOCALES as readonly string[]).includes(kept ?? '')) {
      lang = kept as Locale
    } else {
      lang = pickLocale(undefined, (langs) => ctx.acceptsLanguages(langs))
    }
    locales.set(ctx, lang)
    return lang
  }
  const render = (ctx: Context, page: string, titleKey: string, data: Record<string, unknown> = {}, at?: string) => {
    const lang = locale(ctx)
    const operator = (ctx.state as { operator?: ConsoleOperator }).operator
    // Same-origin, not no-referrer: a browser then names the console as the Origin of its forms
    // (no-referrer sends "null"), which sameOrigin checks; other sites still get no Referer.
    ctx.set('Referrer-Policy', 'same-origin')
    ctx.type = 'html'
    ctx.body = views.render(page, lang, titleKey, {
      ...languageSwitch(ctx, lang, at), operator: operator?.name, csrf: operator ? csrf.token(scope(operator)) : undefined,
      section: page, ...data,
    }, 'console')
  }
  const message = (ctx: Context, err: PostCertError) => {
    const key = `error.${err.code}`
    return views.has(locale(ctx), key) ? views.message(locale(ctx), key) : err.description
  }

  /**
   * Pages and actions need a live session: without one a page sends the browser to the sign-in
   * page, and an action is refused (what it would have done is not done after a sign-in).
   */
  const signedIn = async (ctx: Context) => {
    const operator = await operators.session(ctx.cookies.get(cookieName()))
    if (!operator) {
      if (ctx.method === 'GET' || ctx.method === 'HEAD') {
        ctx.status = 303
        ctx.redirect('/console/login')
        return
      }
      const err = consoleLoginRequired()
      err.link = { href: '/console/login', key: 'console.login.title' }
      throw err
    }
    current.set(ctx, operator)
    ;(ctx.state as { operator?: ConsoleOperator }).operator = operator
  }
  /** A POST must come from the console's own pages: its origin, and for a form, the session's token. */
  const sameOrigin = (ctx: Context) => {
    const origin = ctx.get('origin')
    // Browsers send Origin with every POST; a page of another site (or a rebound host name) is not the console.
    if (origin !== operators.origin) throw invalidCsrfToken()
  }
  const formOf = async (ctx: Context): Promise<URLSearchParams> => {
    sameOrigin(ctx)
    const form = await readForm(ctx)
    csrf.verify(scope(current.get(ctx)), form.get('csrf'))
    return form
  }
  const limited = async (ctx: Context) => {
    const decision = await deps.limiter.hit(`console-challenge:${ctx.ip}`, CHALLENGES_PER_MINUTE, 60)
    if (!decision.allowed) throw consoleTooManyAttempts(decision.retryAfterSeconds)
  }
  const page = (path: string, name: string, handle: (ctx: Context, params: Record<string, string>) => Promise<void>) =>
    router.add('GET', path, name, noStore, signedIn, async (ctx, params) => {
      if (ctx.status === 303) return
      await handle(ctx, params)
    })
  const action = (path: string, name: string, handle: (ctx: Context, form: URLSearchParams, params: Record<string, string>) => Promise<string>) =>
    router.add('POST', path, name, noStore, signedIn, async (ctx, params) => {
      const form = await formOf(ctx)
      const next = await handle(ctx, form, params)
      ctx.status = 303
      ctx.redirect(next)
    })
  const act = (ctx: Context) => current.get(ctx).actor
  /** Runs an admin route for a page: a refusal (4xx) becomes the page's message and status, with `fallback` to show; anything else is thrown. */
  const attempt = async <T>(ctx: Context, operationId: string, raw: Parameters<CallAdmin>[1], fallback: T): Promise<{ result: T; error: string | undefined }> => {
    try {
      return { result: await deps.call(operationId, raw, act(ctx)) as T, error: undefined }
    } catch (err) {
      if (!(err instanceof PostCertError) || !err.expose) throw err
      ctx.status = err.status
      return { result: fallback, error: message(ctx, err) }
    }
  }

  // Sign-in and invitations: a page, then the passkey's options and answer as JSON (console.ts in src/browser).
  router.add('GET', '/console/login', 'console_login', noStore, (ctx) => {
    render(ctx, 'console-login', 'console.login.title', { scripts: ['/assets/console.js'], scriptMessages: views.scriptMessages(locale(ctx), ['consolejs.'], ['passkey_refused', 'too_many_attempts', 'invitation_invalid']) })
  })
  router.add('GET', '/console/enroll', 'console_enroll', noStore, (ctx) => {
    render(ctx, 'console-enroll', 'console.enroll.title', { scripts: ['/assets/console.js'], scriptMessages: views.scriptMessages(locale(ctx), ['consolejs.'], ['passkey_refused', 'too_many_attempts', 'invitation_invalid']) })
  })
  router.add('POST', '/console/login/options', 'console_login_options', noStore, async (ctx) => {
    sameOrigin(ctx)
    await limited(ctx)
    ctx.body = await operators.signInOptions()
  })
  router.add('POST', '/console/login', 'console_login_verify', noStore, async (ctx) => {
    sameOrigin(ctx)
    const body = await readJson(ctx)
    const { token } = await operators.signIn(text(body.challengeId), body.response)
    setCookie(ctx, token, CONSOLE_SESSION_SECONDS)
    ctx.body = { redirect: '/console' }
  })
  router.add('POST', '/console/enroll/options', 'console_enroll_options', noStore, async (ctx) => {
    sameOrigin(ctx)
    await limited(ctx)
    const body = await readJson(ctx)
    ctx.body = await operators.registrationOptions(text(body.invitation))
  })
  router.add('POST', '/console/enroll', 'console_enroll_verify', noStore, async (ctx) => {
    sameOrigin(ctx)
    const body = await readJson(ctx)
    const { token } = await operators.register(text(body.invitation), text(body.challengeId), body.response)
    setCookie(ctx, token, CONSOLE_SESSION_SECONDS)
    ctx.body = { redirect: '/console' }
  })
  action('/console/logout', 'console_logout', async (ctx) => {
    await operators.signOut(ctx.cookies.get(cookieName()))
    setCookie(ctx, '', 0)
    return '/console/login'
  })

  page('/console', 'console_dashboard', async (ctx) => {
    await deps.tally.flush()
    render(ctx, 'console-dashboard', 'console.dashboard.title', { charts: await dashboard(deps.tally, deps.clock, (key) => views.message(locale(ctx), key)) })
  })

  page('/console/certificates', 'console_certificates', async (ctx) => {
    const q = singleValues(ctx.query)
    const serial = q.serial?.trim().replace(/:/g, '')
    if (serial) {
      ctx.status = 303
      ctx.redirect(`/console/certificates/${encodeURIComponent(serial)}`)
      return
    }
    const query = Object.fromEntries(Object.entries({ subscriber: q.subscriber?.trim(), status: q.status, after: q.after, limit: '50' }).filter(([, v]) => v))
    const searched = Boolean(query.subscriber || query.status)
    const { result: found, error } = searched
      ? await attempt<{ certificates: Record<string, unknown>[]; next?: string }>(ctx, 'searchCertificates', { query }, { certificates: [] })
      : { result: { certificates: [] as Record<string, unknown>[], next: undefined }, error: undefined }
    const rows = found.certificates.map((c) => ({ ...c, not_after: koreanTime(c.not_after as string) }))
    const next = found.next ? `/console/certificates?${new URLSearchParams({ ...query, after: found.next } as Record<string, string>)}` : undefined
    render(ctx, 'console-certificates', 'console.certificates.title', { rows, next, error, searched, subscriber: query.subscriber, status: query.status })
  })

  const certificatePage = async (ctx: Context, serial: string, extra: Record<string, unknown> = {}) => {
    const c = await deps.call('showCertificate', { params: { serial } }, act(ctx)) as Record<string, string | boolean | null>
    render(ctx, 'console-certificate', 'console.certificate.title', {
      c: { ...c, not_before: koreanTime(c.not_before as string), not_after: koreanTime(c.not_after as string), revoked_at: koreanTime(c.revoked_at as string | null) },
      good: c.status === 'good' && !c.expired, suspended: c.status === 'suspended', reasons: OPERATOR_REVOCATION_REASONS,
      done: DONE.find((verb) => verb === ctx.query.done), ...extra,
    }, `/console/certificates/${serial}`)
  }
  page('/console/certificates/:serial', 'console_certificate', async (ctx, params) => {
    await certificatePage(ctx, params.serial!)
  })
  for (const verb of DONE) {
    router.add('POST', `/console/certificates/:serial/${verb}`, `console_certificate_${verb}`, noStore, signedIn, async (ctx, params) => {
      const form = await formOf(ctx)
      const serial = params.serial!
      if (form.get('confirm') !== 'yes') {
        ctx.status = 400
        await certificatePage(ctx, serial, { error: views.message(locale(ctx), 'console.certificate.confirm_needed') })
        return
      }
      const operation = { revoke: 'revokeCertificate', suspend: 'suspendCertificate', resume: 'resumeCertificate' }[verb]
      const { error } = await attempt(ctx, operation, { params: { serial }, ...(verb === 'revoke' ? { body: { reason: form.get('reason') } } : {}) }, undefined)
      if (error) {
        await certificatePage(ctx, serial, { error })
        return
      }
      ctx.status = 303
      ctx.redirect(`/console/certificates/${encodeURIComponent(serial)}?done=${verb}`)
    })
  }

  page('/console/clients', 'console_clients', async (ctx) => {
    const { clients } = await deps.call('listClients', {}, act(ctx)) as { clients: Record<string, unknown>[] }
    render(ctx, 'console-clients', 'console.clients.title', {
      rows: clients.map((c) => ({
        client_id: c.client_id, name: c.client_name ?? '', grants: ((c.grant_types as string[] | undefined) ?? []).join(', '),
        admin: c.postcert_admin_api === true, fapi: c.postcert_fapi === true, redirects: ((c.redirect_uris as string[] | undefined) ?? []).join(' '),
      })),
    })
  })

  page('/console/audit', 'console_audit', async (ctx) => {
    const q = singleValues(ctx.query)
    const query = Object.fromEntries(Object.entries({ type: q.type, serial: q.serial, subscriber: q.subscriber, before: q.before, limit: '50' }).filter(([, v]) => v))
    const { result: found, error } = await attempt<{ events: Record<string, unknown>[]; next?: number }>(ctx, 'queryAudit', { query }, { events: [] })
    const lang = locale(ctx)
    const rows = found.events.map((e) => {
      const data = e.data as Record<string, unknown>
      const key = `account.event.${String(e.type)}`
      return { ...e, at: koreanTime(e.occurred_at as string), what: views.has(lang, key) ? views.message(lang, key) : e.type, actor: typeof data.actor === 'string' ? data.actor : '', details: JSON.stringify(data) }
    })
    const next = found.next ? `/console/audit?${new URLSearchParams({ ...query, before: String(found.next) } as Record<string, string>)}` : undefined
    render(ctx, 'console-audit', 'console.audit.title', { rows, next, error, filter: query })
  })

  page('/console/approvals', 'console_approvals', async (ctx) => {
    const { approvals } = await deps.call('listApprovals', {}, act(ctx)) as { approvals: Record<string, unknown>[] }
    const me = act(ctx).id
    render(ctx, 'console-approvals', 'console.approvals.title', {
      rows: approvals.slice(0, 100).map((a) => ({
        ...a, requested_at: koreanTime(a.requested_at as string), params: JSON.stringify(a.params), result: a.result ? JSON.stringify(a.result) : '',
        decidable: a.status === 'pending' && a.requested_by !== me, withdrawable: a.status === 'pending' && a.requested_by === me,
      })),
      error: typeof ctx.query.error === 'string' ? views.message(locale(ctx), `console.approvals.error.${ctx.query.error === 'closed' ? 'closed' : 'refused'}`) : undefined,
    })
  })
  for (const verb of ['approve', 'reject'] as const) {
    action(`/console/approvals/:id/${verb}`, `console_approval_${verb}`, async (ctx, _form, params) => {
      try {
        await deps.call(verb === 'approve' ? 'approveApproval' : 'rejectApproval', { params: { approvalId: params.id! } }, act(ctx))
      } catch (err) {
        if (!(err instanceof PostCertError) || !err.expose) throw err
        return `/console/approvals?error=${err.code === 'approval_closed' ? 'closed' : 'refused'}`
      }
      return '/console/approvals'
    })
  }

  page('/console/operators', 'console_operators', async (ctx) => {
    const { operators: list } = await deps.call('listOperators', {}, act(ctx)) as { operators: Record<string, unknown>[] }
    render(ctx, 'console-operators', 'console.operators.title', {
      rows: list.map((o) => ({ ...o, created_at: koreanTime(o.created_at as string), last_sign_in_at: koreanTime(o.last_sign_in_at as string | null), invitation_expires_at: koreanTime(o.invitation_expires_at as string | null) })),
    })
  })
}

/** A JSON field that should be a string; anything else is the empty string (and is refused where it is checked). */
const text = (value: unknown) => (typeof value === 'string' ? value : '')

/** What a form's CSRF token is bound to: the session (a token from another session does not work). */
const scope = (operator: ConsoleOperator) => `console:${operator.sessionId}`
