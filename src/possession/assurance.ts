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

/**
 * The assurance level a login must reach for this authorization request: the least demanding of
 * the levels it names, in `acr_values` or as the ID token's `acr` in the `claims` parameter.
 * Unknown values are ignored; undefined means any holder will do.
 */
export function requiredAcr(params: Record<string, unknown>): string | undefined {
  const named: string[] = []
  if (typeof params.acr_values === 'string') named.push(...params.acr_values.split(' '))
  try {
    const claims = typeof params.claims === 'string' ? JSON.parse(params.claims) : params.claims
    const acr = claims?.id_token?.acr
    if (typeof acr?.value === 'string') named.push(acr.value)
    if (Array.isArray(acr?.values)) named.push(...acr.values.filter((v: unknown) => typeof v === 'string'))
  } catch {
    // a malformed claims parameter is oidc-provider's to refuse
  }
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
  try {
    const claims = typeof params.claims === 'string' ? JSON.parse(params.claims) : params.claims
    const acr = claims?.id_token?.acr
    if (!acr?.essential) return false
    const values = [...(typeof acr.value === 'string' ? [acr.value] : []), ...(Array.isArray(acr.values) ? acr.values : [])]
    return values.length > 0 && !values.some((v: unknown) => typeof v === 'string' && Object.hasOwn(RANK, v))
  } catch {
    return false
  }
}
