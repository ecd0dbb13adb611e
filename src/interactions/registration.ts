import type Provider from 'oidc-provider'
import type { AuditLog } from '../audit/audit-log.ts'
import type { Database } from '../db/database.ts'

type LoadedInteraction = Awaited<ReturnType<Provider['interactionDetails']>>

/**
 * Registration at the institution (등록): the Grant of what this request still needs (scopes,
 * claims), kept in `registration` so that it holds on every device. Returns the grant id.
 */
export async function registerAtInstitution(provider: Provider, details: LoadedInteraction, deps: { db: Database; audit: AuditLog }): Promise<string> {
  const accountId = details.session!.accountId
  const clientId = String(details.params.client_id)
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> }
  const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId })
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '))
  const grantId = await grant.save()
  const now = new Date()
  await deps.db.insertInto('registration')
    .values({ subscriber_id: accountId, client_id: clientId, grant_id: grantId, created_at: now, updated_at: now })
    .onConflict((oc) => oc.columns(['subscriber_id', 'client_id']).doUpdateSet({ grant_id: grantId, updated_at: now }))
    .execute()
  // A new registration, or more granted: recorded. A signature at a registered institution grants nothing new.
  if (!details.grantId || missing.missingOIDCScope || missing.missingOIDCClaims || missing.missingResourceScopes) {
    await deps.audit.record(deps.db, { type: 'consent.granted', subscriberId: accountId, data: { client: clientId, scope: missing.missingOIDCScope ?? [] } })
  }
  return grantId
}
