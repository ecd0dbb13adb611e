/**
 * The claims each scope releases (oidc-provider's `claims` setting), and so what the registration
 * page lists for the scopes a request asks for. acr, amr and auth_time always travel in the ID
 * token: relying parties decide on the assurance level.
 */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'birthdate'],
  phone: ['phone_number', 'phone_number_verified'],
  ci: ['ci'],
  certificate: ['certificate'],
}

/** What a subscriber is told a registration releases: each claim of these scopes that says something about them (not how they logged in). */
export function releasedClaims(scopes: string[]): string[] {
  const about = (claim: string) => !['acr', 'amr', 'auth_time', 'phone_number_verified'].includes(claim)
  return [...new Set(['sub', ...scopes.flatMap((s) => SCOPE_CLAIMS[s] ?? [])])].filter(about)
}
