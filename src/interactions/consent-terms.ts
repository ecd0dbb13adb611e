import type { Client } from 'oidc-provider'
import type { ConsentDefaults } from '../config/config.ts'
import type { Locale, Views } from '../http/views.ts'
import { consentText, optionalScopes, releasableTo } from '../oidc/client-policy.ts'
import { releasedClaims } from '../oidc/scope-claims.ts'

/**
 * What the registration page tells of a provision to an institution, as 개인정보 보호법 asks
 * (articles 17 and 22): the purpose and retention the institution registered (else the
 * operator's), the items it requires, the ones it asks for as optional (offered apart, not
 * ticked), and whether it keeps getting them (offline_access) until the registration ends.
 */
export interface ConsentTerms {
  purpose: string
  retention: string
  /** The required items, in words, comma-separated. */
  required: string
  /** Each optional scope asked for, with its items in words. */
  optional: { scope: string; label: string }[]
  /** Ongoing access is asked for, and not as an option. */
  offlineRequired: boolean
}

export function consentTerms(input: { client: Client | undefined; scopes: string[]; lang: Locale; views: Views; defaults: ConsentDefaults }): ConsentTerms {
  const { client, scopes, lang, views, defaults } = input
  const optional = optionalScopes(client).filter((s) => scopes.includes(s))
  const words = (claims: string[]) => claims.filter((c) => releasableTo(client, c)).map((c) => views.message(lang, `consent.claim.${c}`)).join(', ')
  return {
    purpose: consentText(client, 'postcert_purpose', lang) ?? defaults[lang].purpose,
    retention: consentText(client, 'postcert_retention', lang) ?? defaults[lang].retention,
    required: words(releasedClaims(scopes.filter((s) => !optional.includes(s)))),
    optional: optional
      .map((scope) => ({ scope, label: scope === 'offline_access' ? views.message(lang, 'consent.offline_item') : words(releasedClaims([scope]).filter((c) => c !== 'sub')) }))
      .filter((o) => o.label),
    offlineRequired: scopes.includes('offline_access') && !optional.includes('offline_access'),
  }
}

/** Of the optional scopes a request asks for, those the subscriber did not tick: the grant rejects them. */
export function declinedScopes(client: Client | undefined, scopes: string[], ticked: string[]): string[] {
  return optionalScopes(client).filter((s) => scopes.includes(s) && !ticked.includes(s))
}
