// Assurance levels (acr) and authentication methods (amr, RFC 8176) by holder.

export const ACR_HIGH = 'urn:postcert:loa:high'
export const ACR_SUBSTANTIAL = 'urn:postcert:loa:substantial'
/** Lowest first: a request for substantial is met by high too. */
export const ACR_VALUES = [ACR_SUBSTANTIAL, ACR_HIGH] as const

/**
 * What a proof with this holder is worth. High only for a passkey whose attestation PostCert
 * verified (holders/webauthn/attestation.ts): a key in hardware its maker certifies. Any other
 * passkey still verifies the user on the device, but nothing says where its key lives.
 */
export function assuranceOf(holder: 'passkey' | 'file', attested = false): { acr: string; amr: string[] } {
  if (holder === 'passkey') {
    return attested
      // hardware-bound key, with the user verified on the device (PIN or biometrics)
      ? { acr: ACR_HIGH, amr: ['hwk', 'user', 'mfa'] }
      // a key of unknown protection (perhaps synced), with the user verified on the device
      : { acr: ACR_SUBSTANTIAL, amr: ['swk', 'user'] }
  }
  // software key, unlocked with the certificate password
  return { acr: ACR_SUBSTANTIAL, amr: ['swk', 'pwd'] }
}

const RANK: Record<string, number> = { [ACR_SUBSTANTIAL]: 1, [ACR_HIGH]: 2 }

/** The ID token's `acr` request in the `claims` parameter (OpenID Connect 5.5.1), read without trusting its shape. */
interface AcrRequest {
  essential: boolean
  /** The levels it names, in `value` or `values`: strings only. */
  named: string[]
  /** How many it asks for, whatever their type (`value` when a string, every entry of `values`). */
  asked: number
}

function acrRequest(params: Record<string, unknown>): AcrRequest | undefined {
  let claims: unknown
  try {
    claims = typeof params.claims === 'string' ? JSON.parse(params.claims) as unknown : params.claims
  } catch {
    return undefined // a malformed claims parameter is oidc-provider's to refuse
  }
  const field = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined)
  const acr = field(field(claims, 'id_token'), 'acr')
  if (typeof acr !== 'object' || acr === null) return undefined
  const value = field(acr, 'value')
  const values = field(acr, 'values')
  const named = [...(typeof value === 'string' ? [value] : []), ...(Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [])]
  return { essential: Boolean(field(acr, 'essential')), named, asked: (typeof value === 'string' ? 1 : 0) + (Array.isArray(values) ? values.length : 0) }
}

/**
 * The assurance level a login must reach for this authorization request: the least demanding of
 * the levels it names, in `acr_values` or as the ID token's `acr` in the `claims` parameter.
 * Unknown values are ignored; undefined means any holder will do.
 */
export function requiredAcr(params: Record<string, unknown>): string | undefined {
  const named: string[] = []
  if (typeof params.acr_values === 'string') named.push(...params.acr_values.split(' '))
  named.push(...(acrRequest(params)?.named ?? []))
  const known = named.filter((v) => Object.hasOwn(RANK, v)).sort((a, b) => RANK[a]! - RANK[b]!)
  return known[0]
}

export function meets(acr: string, required: string | undefined): boolean {
  return !required || ((Object.hasOwn(RANK, acr) ? RANK[acr]! : 0) >= (Object.hasOwn(RANK, required) ? RANK[required]! : Infinity))
}

/** Whether this authorization request asks for more than substantial: attested passkeys only. */
export function passkeyOnly(params: Record<string, unknown>): boolean {
  return !meets(ACR_SUBSTANTIAL, requiredAcr(params))
}

/**
 * Whether the request asks, as essential, only for levels PostCert does not have (an unknown
 * acr): no holder can ever meet it. (Unknown voluntary acr_values are ignored, as OpenID Connect allows.)
 */
export function unsatisfiable(params: Record<string, unknown>): boolean {
  const acr = acrRequest(params)
  if (!acr?.essential) return false
  return acr.asked > 0 && !acr.named.some((v) => Object.hasOwn(RANK, v))
}
