import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import { CLOCK_TOLERANCE_SECONDS, TTL } from '../constants.ts'
import type { PrivateJwk } from '../keys/signing-keys.ts'
import { pickLocale, type Locale, type Views } from '../http/views.ts'
import { PostgresAdapter, type AdapterDeps } from './adapter.ts'

export const SIGNING_ALGS = ['ES256', 'PS256', 'RS256'] as const

export interface ProviderDeps extends AdapterDeps {
  issuer: string
  trustProxy: boolean
  secureCookies: boolean
  jwks: PrivateJwk[]
  cookieKeys: string[]
  views: Views
}

/** The locale for pages oidc-provider renders itself (errors, logout). */
function localeOf(ctx: KoaContextWithOIDC): Locale {
  return pickLocale(ctx.oidc?.params?.ui_locales, (langs) => ctx.acceptsLanguages(langs))
}

/**
 * The oidc-provider instance. All state lives in the database (adapter), so instances are
 * interchangeable and a new instance can replace this one when the signing keys change.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { views } = deps
  const configuration: Configuration = {
    adapter: (name: string) => new PostgresAdapter(name, deps),
    jwks: { keys: deps.jwks as unknown as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
    },
    // Until certificate login exists (#5) there are no accounts to find.
    findAccount: async () => undefined,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html'
          ctx.body = views.render('logout', localeOf(ctx), 'logout.title', { form, host: ctx.host })
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html'
          ctx.body = views.render('logged-out', localeOf(ctx), 'logout.done_title')
        },
      },
    },
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access'],
    claims: { openid: ['sub'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      introspection_signed_response_alg: 'ES256',
    },
    enabledJWA: {
      idTokenSigningAlgValues: [...SIGNING_ALGS],
      userinfoSigningAlgValues: [...SIGNING_ALGS],
      introspectionSigningAlgValues: [...SIGNING_ALGS],
      authorizationSigningAlgValues: [...SIGNING_ALGS],
    },
    rotateRefreshToken: true,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ttl: {
      AccessToken: TTL.AccessToken,
      AuthorizationCode: TTL.AuthorizationCode,
      BackchannelAuthenticationRequest: TTL.BackchannelAuthenticationRequest,
      ClientCredentials: TTL.ClientCredentials,
      DeviceCode: TTL.DeviceCode,
      Grant: TTL.Grant,
      IdToken: TTL.IdToken,
      Interaction: TTL.Interaction,
      PushedAuthorizationRequest: TTL.PushedAuthorizationRequest,
      RefreshToken: TTL.RefreshToken,
      Session: TTL.Session,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html'
      const locale = localeOf(ctx)
      const code = String(out.error)
      const key = `error.${code}`
      const message = views.has(locale, key) ? views.message(locale, key) : String(out.error_description ?? views.message(locale, 'error.invalid_request'))
      ctx.body = views.render('error', locale, 'error.title', { code, message, requestId: ctx.state.requestId })
    },
  }
  const provider = new Provider(deps.issuer, configuration)
  provider.proxy = deps.trustProxy
  return provider
}
