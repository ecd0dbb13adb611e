import { createHmac } from 'node:crypto'
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import { ACR_VALUES } from '../login/assurance.ts'
import { CLOCK_TOLERANCE_SECONDS, TTL } from '../constants.ts'
import type { PrivateJwk } from '../keys/signing-keys.ts'
import { pickLocale, type Locale, type Views } from '../http/views.ts'
import { PostgresAdapter, type AdapterDeps } from './adapter.ts'

export const SIGNING_ALGS = ['ES256', 'PS256', 'RS256'] as const

/** What the provider needs to know of a subscriber for claims. */
export interface AccountClaims {
  name: string
  birthdate: string
  phone_number: string
  /** Connecting identifier: the same for a person at every institution, so released only to clients the operator allows. */
  ci: string
}

/** Client metadata the operator sets (never the client itself) to release the connecting identifier. */
export const CI_ALLOWED = 'postcert_ci_allowed'

export interface ProviderDeps extends AdapterDeps {
  findSubscriber: (id: string) => Promise<AccountClaims | undefined>
  /** Key for pairwise subject identifiers. */
  pairwiseSalt: string
  /** The grant of the subscriber's registration at this client, if any. */
  findRegistration: (subscriberId: string, clientId: string) => Promise<string | undefined>
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
    findAccount: async (ctx, sub) => {
      const subscriber = await deps.findSubscriber(sub)
      if (!subscriber) return undefined
      const ciAllowed = ctx.oidc?.client?.metadata()[CI_ALLOWED] === true
      return {
        accountId: sub,
        claims: async () => ({
          sub, name: subscriber.name, birthdate: subscriber.birthdate,
          phone_number: subscriber.phone_number, phone_number_verified: true,
          ...(ciAllowed ? { ci: subscriber.ci } : {}),
        }),
      }
    },
    extraClientMetadata: {
      properties: [CI_ALLOWED],
      validator: (_ctx, key, value) => {
        if (key === CI_ALLOWED && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${CI_ALLOWED} must be true or false`)
        }
      },
    },
    // A different, stable subject for each sector (relying party), so institutions cannot link users.
    subjectTypes: ['pairwise', 'public'],
    pairwiseIdentifier: async (_ctx, accountId, client) =>
      createHmac('sha256', deps.pairwiseSalt).update(`${client.sectorIdentifier}:${accountId}`).digest('base64url'),
    acrValues: [...ACR_VALUES],
    // Registration at an institution is the consent: once given, it holds on every device, not
    // only in the browser session that gave it.
    loadExistingGrant: async (ctx) => {
      const clientId = ctx.oidc.client!.clientId
      const accountId = ctx.oidc.session!.accountId
      const grantId = ctx.oidc.result?.consent?.grantId
        ?? ctx.oidc.session!.grantIdFor(clientId)
        ?? (accountId ? await deps.findRegistration(accountId, clientId) : undefined)
      if (!grantId) return undefined
      const grant = await ctx.oidc.provider.Grant.find(grantId)
      // A grant of another subscriber, or an expired one, is no registration.
      return grant && grant.accountId === accountId && grant.clientId === clientId ? grant : undefined
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
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
    scopes: ['openid', 'offline_access', 'profile', 'phone', 'ci'],
    claims: {
      // acr and amr always travel in the ID token: relying parties decide on the assurance level.
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'birthdate'],
      phone: ['phone_number', 'phone_number_verified'],
      ci: ['ci'],
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      subject_type: 'pairwise',
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
