import type { Locale, Views } from './views.ts'

/**
 * Error descriptions a person may meet on an error page (oidc-provider's, for requests that
 * cannot be sent back to the institution), as message keys with what they name. The page shows
 * the reason in the reader's language; a description not listed here is shown as it is (it was
 * written for the requester: never a stack or an internal detail).
 */
const REASONS: readonly [RegExp, string][] = [
  [/^missing required parameters? (.+)$/, 'reason.missing_parameter'],
  [/^redirect_uri did not match any of the client's registered redirect_uris$/, 'reason.redirect_uri_not_registered'],
  [/^post_logout_redirect_uri not registered$/, 'reason.post_logout_redirect_uri_not_registered'],
  [/^could not (validate|decode) id_token_hint$|^unrecognized id_token_hint audience$/, 'reason.id_token_hint_invalid'],
  [/^(client is invalid|client not found)$/, 'reason.client_unknown'],
  [/^unsupported response_type requested$|^requested response_type is not allowed for this client$/, 'reason.response_type'],
  [/^request_uri is invalid, expired, or was already used$|^invalid request_uri$/, 'reason.request_uri'],
  [/^request client_id must equal the one in request parameters$|^request client_id mismatch$/, 'reason.request_other_client'],
  [/^requested scope is not allowed$|^scope contains invalid characters$/, 'reason.scope'],
  [/^(.+) is not allowed for this client$/, 'reason.not_allowed_for_client'],
  [/^Pushed Authorization Request must be used$/i, 'reason.par_required'],
  [/^(.+) contains invalid characters$/, 'reason.invalid_characters'],
]

/**
 * The reason an error page gives, in `locale`: the description's localized form when PostCert
 * knows it, else the description itself; undefined when there is none or it only repeats `shown`.
 */
export function errorReason(views: Views, locale: Locale, description: unknown, shown?: string): string | undefined {
  if (typeof description !== 'string' || !description.trim() || description === shown) return undefined
  for (const [pattern, key] of REASONS) {
    const match = pattern.exec(description)
    if (match) return views.format(locale, key, { name: match[1] ?? '' })
  }
  return description
}
