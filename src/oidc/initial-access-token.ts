import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'

export interface InitialAccessTokenOptions {
  /** Lifetime in days (1 to 365). */
  days: number
  /** Its clients may receive the connecting identifier (operator approval). */
  ci?: boolean
  /** Its clients must register under the FAPI 2.0 profile. */
  fapi?: boolean
  /** Its clients may have public subjects (operator approval). */
  publicSubject?: boolean
  /** Its clients may receive the `certificate` claim (operator approval). */
  certificateClaim?: boolean
  /** Its confidential clients may omit PKCE (for the OpenID certification suite). */
  pkceOptional?: boolean
  /** It may register more than one client until it expires; otherwise the first registration spends it. */
  reusable?: boolean
}

/**
 * An initial access token for RFC 7591 registration (`postcert iat create`). oidc-provider stores
 * it through the adapter (as its SHA-256), with the policies of client-policy.ts that it carries.
 */
export async function createInitialAccessToken(provider: Provider, options: InitialAccessTokenOptions): Promise<{ token: string; expiresAt: Date; policies: string[] }> {
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 365) throw new RangeError('an initial access token lives 1 to 365 days')
  const policies = [...(options.ci ? ['ci'] : []), ...(options.fapi ? ['fapi2'] : []), ...(options.pkceOptional ? ['pkce-optional'] : []),
    ...(options.publicSubject ? ['public-subject'] : []), ...(options.certificateClaim ? ['certificate'] : []), ...(options.reusable ? ['reusable'] : [])]
  const expiresIn = options.days * 86_400
  const token = await new provider.InitialAccessToken({ expiresIn, ...(policies.length ? { policies } : {}) }).save()
  return { token, expiresAt: new Date(Date.now() + expiresIn * 1000), policies }
}

/**
 * Provider middleware: after a successful registration, its initial access token is spent unless
 * it is reusable. (Two registrations racing with one token may both succeed; the holder is the
 * one institution the operator gave it to.)
 */
export async function spendInitialAccessToken(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next()
  if (ctx.oidc?.route !== 'registration' || ctx.status !== 201) return
  const token = ctx.oidc.entities.InitialAccessToken as { policies?: string[]; destroy(): Promise<void> } | undefined
  if (token && !token.policies?.includes('reusable')) await token.destroy()
}
