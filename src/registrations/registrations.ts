import type Provider from 'oidc-provider'
import type { AuditLog } from '../audit/audit-log.ts'
import type { Database } from '../db/database.ts'
import { notFound } from '../errors/errors.ts'
import type { LogoutNotice, LogoutNotices } from '../oidc/logout-notices.ts'
import { SCOPE_CLAIMS } from '../oidc/scope-claims.ts'
import type { Clock } from '../util/clock.ts'

type LoadedInteraction = Awaited<ReturnType<Provider['interactionDetails']>>

/** An institution the subscriber registered with, as the portal lists it. */
export interface Institution {
  clientId: string
  name: string
  registeredAt: Date
  scopes: string[]
  claims: string[]
}

export interface RegistrationDeps {
  db: Database
  clock: Clock
  audit: AuditLog
  provider: () => Provider
  /** Back-channel logouts owed to institutions (oidc/logout-notices.ts). */
  notices: LogoutNotices
}

/**
 * Registrations at institutions (등록): the consent a subscriber gives a client, kept as an
 * oidc-provider Grant and a `registration` row (subscriber, client, grant) so that it holds on
 * every device. This module alone writes the table: it records, lists and ends registrations;
 * registered-grant.ts reads one with its grant for the provider.
 *
 * Throws: NotFoundError when ending a registration that does not exist.
 */
export class Registrations {
  readonly #deps: RegistrationDeps

  constructor(deps: RegistrationDeps) {
    this.#deps = deps
  }

  /**
   * Records the grant of what this request still needs (scopes, claims), but for the optional
   * scopes the subscriber `declined`: those are rejected, and so are their claims when the request
   * also names them one by one (the claims parameter); oidc-provider then neither releases them
   * nor asks again. Returns the grant id.
   */
  async register(provider: Provider, details: LoadedInteraction, declined: string[] = []): Promise<string> {
    const { db, audit } = this.#deps
    const accountId = details.session!.accountId
    const clientId = String(details.params.client_id)
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> }
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId })
    const granted = missing.missingOIDCScope?.filter((s) => !declined.includes(s))
    if (granted?.length) grant.addOIDCScope(granted.join(' '))
    if (declined.length) grant.rejectOIDCScope(declined.join(' '))
    const declinedClaims = new Set(declined.flatMap((s) => SCOPE_CLAIMS[s] ?? []))
    const claims = missing.missingOIDCClaims?.filter((c) => !declinedClaims.has(c))
    if (claims?.length) grant.addOIDCClaims(claims)
    const refused = missing.missingOIDCClaims?.filter((c) => declinedClaims.has(c))
    if (refused?.length) grant.rejectOIDCClaims(refused)
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '))
    const grantId = await grant.save()
    const now = this.#deps.clock.now()
    await db.insertInto('registration')
      .values({ subscriber_id: accountId, client_id: clientId, grant_id: grantId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['subscriber_id', 'client_id']).doUpdateSet({ grant_id: grantId, updated_at: now }))
      .execute()
    // A new registration, or more granted: recorded. A signature at a registered institution grants nothing new.
    if (!details.grantId || missing.missingOIDCScope || missing.missingOIDCClaims || missing.missingResourceScopes) {
      await audit.record(db, { type: 'consent.granted', subscriberId: accountId, data: { client: clientId, scope: missing.missingOIDCScope ?? [] } })
    }
    return grantId
  }

  /** The institutions the subscriber registered with: name, date, and what the registration grants. */
  async list(subscriberId: string): Promise<Institution[]> {
    const rows = await this.#deps.db.selectFrom('registration').selectAll().where('subscriber_id', '=', subscriberId).orderBy('created_at', 'desc').execute() // registration_pkey
    const provider = this.#deps.provider()
    const found = await Promise.all(rows.map(async (row) => {
      const [client, grant] = await Promise.all([provider.Client.find(row.client_id), provider.Grant.find(row.grant_id)])
      if (!grant) return undefined // revoked or expired: no longer a registration
      const scopes = String(grant.getOIDCScope() ?? '').split(' ').filter(Boolean)
      const claims = [...new Set([...grant.getOIDCClaims()])]
      return { clientId: row.client_id, name: client?.clientName ?? row.client_id, registeredAt: row.created_at, scopes, claims }
    }))
    return found.filter((i): i is Institution => i !== undefined)
  }

  /**
   * Ends the registration at an institution: its grant and every token and code of it are
   * deleted, the institution is owed a back-channel logout for each of the subscriber's sessions
   * with it (the outbox, delivered at once and retried), and the next login there asks to register
   * again. Returns how many logouts were owed.
   */
  async revoke(subscriberId: string, clientId: string): Promise<{ notified: number }> {
    const { db, audit } = this.#deps
    const row = await db.selectFrom('registration').select('grant_id')
      .where('subscriber_id', '=', subscriberId).where('client_id', '=', clientId).executeTakeFirst() // registration_pkey
    if (!row) throw notFound('you are not registered with this institution')
    const provider = this.#deps.provider()
    const notices = await this.#sessionsAt(provider, subscriberId, clientId)
    await Promise.all([provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode].map((model) => model.adapter.revokeByGrantId(row.grant_id)))
    await provider.Grant.adapter.destroy(row.grant_id)
    const owed = await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('registration').where('subscriber_id', '=', subscriberId).where('client_id', '=', clientId).execute()
      await audit.record(trx, { type: 'registration.revoked', subscriberId, data: { client: clientId, notified: notices.length } })
      return await this.#deps.notices.add(trx, notices)
    })
    await this.#deps.notices.deliver(owed).catch(() => 0) // kept in the outbox: every instance retries
    return { notified: notices.length }
  }

  /**
   * The back-channel logouts owed to the institution: one for each live PostCert session of the
   * subscriber that logged in there (its sid), found through the certificates they logged in
   * with; the institution leaves those sessions.
   */
  async #sessionsAt(provider: Provider, subscriberId: string, clientId: string): Promise<LogoutNotice[]> {
    const sessions = await this.#deps.db.selectFrom('login_session').innerJoin('certificate', 'certificate.serial', 'login_session.certificate_serial')
      .select(['login_session.session_uid', 'login_session.certificate_serial']).distinct()
      .where('certificate.subscriber_id', '=', subscriberId).where('login_session.expires_at', '>', this.#deps.clock.now()) // certificate_subscriber_idx, login_session_certificate_idx
      .execute()
    const owed = new Map<string, LogoutNotice>()
    for (const { session_uid, certificate_serial } of sessions) {
      const session = await provider.Session.findByUid(session_uid)
      const sid = session?.accountId === subscriberId ? session.authorizations?.[clientId]?.sid : undefined
      if (!sid) continue
      owed.set(sid, { clientId, subscriberId, sid, serial: certificate_serial })
      delete session!.authorizations![clientId]
      await session!.save(Math.max(1, (session!.exp ?? 0) - Math.floor(Date.now() / 1000)))
    }
    return [...owed.values()]
  }
}
