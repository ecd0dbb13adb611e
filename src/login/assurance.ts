// Assurance levels (acr) and authentication methods (amr, RFC 8176) by holder.

export const ACR_HIGH = 'urn:postcert:loa:high'
export const ACR_SUBSTANTIAL = 'urn:postcert:loa:substantial'
/** Lowest first: a request for substantial is met by high too. */
export const ACR_VALUES = [ACR_SUBSTANTIAL, ACR_HIGH] as const

export function assuranceOf(holder: 'passkey' | 'file'): { acr: string; amr: string[] } {
  return holder === 'passkey'
    // hardware-bound key, with the user verified on the device (PIN or biometrics)
    ? { acr: ACR_HIGH, amr: ['hwk', 'user', 'mfa'] }
    // software key, unlocked with the certificate password
    : { acr: ACR_SUBSTANTIAL, amr: ['swk', 'pwd'] }
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
  const known = named.filter((v) => v in RANK).sort((a, b) => RANK[a]! - RANK[b]!)
  return known[0]
}

export function meets(acr: string, required: string | undefined): boolean {
  return !required || (RANK[acr] ?? 0) >= RANK[required]!
}

/** Whether this authorization request asks for more than a certificate file gives: passkeys only. */
export function passkeyOnly(params: Record<string, unknown>): boolean {
  return !meets(assuranceOf('file').acr, requiredAcr(params))
}
