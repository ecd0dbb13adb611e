import { createHmac, randomBytes, type KeyObject } from 'node:crypto'
import Provider, { errors, type Client, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { CompiledQuery } from 'kysely'
import { ACR_VALUES } from '../possession/assurance.ts'
import { CLOCK_TOLERANCE_SECONDS, TTL } from '../constants.ts'
import type { PrivateJwk } from '../keys/signing-keys.ts'
import { CookieKeys } from '../http/cookie-keys.ts'
import { pickLocale, type Locale, type Views } from '../http/views.ts'
import { renderErrorPage } from '../http/error-page.ts'
import type { CertificateClaim, LoginRef } from '../sessions/login-sessions.ts'
import { parseSignatureRequest, signaturesResource, SignatureRequestError, SIGNATURE_TYPE } from '../signing/request.ts'
import { groupedExchanges, groupedUpserts, PostgresAdapter, settleRequest, tokenLookup, type AdapterDeps } from './adapter.ts'
import { inRequest, RequestRows } from '../db/request-rows.ts'
import type { ConstantAnswers } from '../http/constant-answers.ts'
import { findRegisteredGrant } from '../registrations/registered-grant.ts'
import { loginPolicy, type LoginPolicyDeps } from './login-policy.ts'
import { certificateAllowed, checkClientMetadata, SUBSCRIBER_SCOPES, ciAllowed, CI_ALLOWED, isOwnSector, fapiProfileOf, FAPI_SIGNING_ALGS, pkceRequired, POSTCERT_CLIENT_PROPERTIES, REGISTRATION_POLICIES } from './client-policy.ts'
import { spendInitialAccessToken } from './initial-access-token.ts'
import { skipJwtParseOfOpaqueTokens } from './opaque-tokens.ts'
import { asText } from '../util/text.ts'
import type { SubscriberClaims } from '../subscribers/subscriber-store.ts'
import { SCOPE_CLAIMS } from './scope-claims.ts'

export const SIGNING_ALGS = ['ES256', 'PS256', 'RS256'] as const
/**
 * The ID token algorithm of a client that registers none: RS256, as OpenID Connect Dynamic Client
 * Registration (section 2) says and relying-party libraries assume by default. FAPI 2.0 clients
 * get FAPI_DEFAULT_ID_TOKEN_ALG instead (client-policy.ts).
 */
export const DEFAULT_ID_TOKEN_ALG = 'RS256'

export interface ProviderDeps extends AdapterDeps {
  findSubscriber: (id: string) => Promise<SubscriberClaims | undefined>
  /** Key for pairwise subject identifiers (imported once: context.ts pairwiseKey). */
  pairwiseKey: KeyObject
  /**
   * The statement that remembers which certificate a login used and for which institution (the
   * `certificate` claim, status governance, reuse); it returns no row when the certificate is no
   * longer good (sessions/login-sessions.ts rememberStatement).
   */
  rememberLogin: (login: LoginRef, serial: string, clientId: string) => CompiledQuery
  loginCertificate: (login: LoginRef) => Promise<CertificateClaim | undefined>
  /** Lifetime of access tokens, both from logins and from client_credentials (ACCESS_TOKEN_SECONDS). */
  accessTokenSeconds: number
  /** The APIs services get client_credentials tokens for (RESOURCE_SERVERS, config/resource-servers.ts says what each field means). */
  resourceServers: { resource: string; scope: string; clients: string[]; format: 'opaque' | 'jwt'; alg: 'ES256' | 'PS256' | 'RS256'; ttl?: number }[]
  /** When a PostCert session may be reused without a new proof (login-policy.ts). */
  loginPolicy: LoginPolicyDeps
  issuer: string
  trustProxy: boolean
  /** Proxies that append to X-Forwarded-For (config.ts): the client's address is that many entries from the right. */
  trustedProxyHops: number
  secureCookies: boolean
  jwks: PrivateJwk[]
  cookieKeys: string[]
  views: Views
  /**
   * Outside production, back-channel logout may reach relying parties on loopback or private
   * addresses (a demo on localhost); in production oidc-provider's SSRF guard refuses them.
   */
  allowPrivateNetworkFetch: boolean
  /** PostCert's own clients (the portal): signed in without a registration page, openid only. */
  firstPartyClients: string[]
  /** Production applies the strict client policy (https redirect URIs even on localhost). */
  production: boolean
  /** Outgoing requests (sector documents, client JWKS, back-channel logout); tests trust their own TLS CA here. */
  fetch?: typeof globalThis.fetch
  /** Keeps discovery's and the JWKS's answers for the requests after them (http/constant-answers.ts). */
  answers?: ConstantAnswers
}

/**
 * The JWKS publishes keys, not PostCert's choice of which one signs: oidc-provider copies the
 * configured `key_ops` (["verify"] on the next and retired keys) into it, so a rotation would
 * change the published form of keys that stay (the suite's VerifyNewJwksStillHasOldSigningKey
 * compares whole keys, and a relying party's cache would see a "new" key).
 */
async function publishedKeysOnly(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next()
  const body = ctx.body as { keys?: Record<string, unknown>[] } | undefined
  if (ctx.oidc?.route === 'jwks' && Array.isArray(body?.keys)) {
    ctx.body = { keys: body.keys.map(({ key_ops: _ops, ...key }) => key) }
  }
}

/** The signature a consent result carries to the code (see interactions/signing.ts). */
export interface PostcertConsentResult {
  postcertSignature?: Record<string, unknown>
}

/**
 * Rich Authorization Requests for signatures: a request is checked strictly (one signature
 * detail at most); the code carries the signature made in its interaction, the access token
 * made from the code carries it on to the token response and introspection. Refreshed tokens
 * do not: a signature is given once.
 */
function signatureRequests() {
  return {
    enabled: true,
    types: {
      [SIGNATURE_TYPE]: {
        validate: (ctx: KoaContextWithOIDC, detail: unknown) => {
          const all = JSON.parse(String(ctx.oidc.params!.authorization_details)) as { type?: unknown }[]
          if (all.filter((d) => d.type === SIGNATURE_TYPE).length > 1) throw new errors.InvalidAuthorizationDetails(`one ${SIGNATURE_TYPE} detail per request`)
          try {
            parseSignatureRequest(detail)
          } catch (err) {
            if (err instanceof SignatureRequestError) throw new errors.InvalidAuthorizationDetails(err.message)
            throw err
          }
        },
      },
    },
    authorizationDetailsForGrantSource: (ctx: KoaContextWithOIDC) => {
      const signature = (ctx.oidc.result?.consent as PostcertConsentResult | undefined)?.postcertSignature
      return signature ? [signature as never] : undefined
    },
    authorizationDetailsForAccessToken: (_ctx: KoaContextWithOIDC, _token: unknown, source: unknown, grantType: string) =>
      grantType === 'authorization_code' ? (source as { rar?: never[] } | undefined)?.rar : undefined,
    authorizationDetailsForIntrospection: (_ctx: KoaContextWithOIDC, token: unknown) => (token as { rar?: never[] }).rar,
  }
}

/**
 * The subject a client knows a subscriber by: an HMAC of its sector and the subscriber under a
 * server secret. The sector is the host oidc-provider derives (of the redirect URIs or of the
 * sector document), or for a sector PostCert assigned, that sector's whole URI (client-policy.ts).
 */
export function pairwiseSubject(key: KeyObject, issuer: string, client: Client, accountId: string): string {
  const { sectorIdentifier, sectorIdentifierUri } = client as unknown as { sectorIdentifier: string; sectorIdentifierUri?: string }
  const sector = isOwnSector(issuer, client.clientId, sectorIdentifierUri) ? sectorIdentifierUri : sectorIdentifier
  return createHmac('sha256', key).update(`${sector}:${accountId}`).digest('base64url')
}

/** What the login step passes to oidc-provider's interactionResult beside its own fields. */
export interface PostcertLoginResult {
  certificateSerial: string
}

/**
 * The login a code or token comes from. Codes and refresh tokens carry the session uid and the
 * auth_time; access tokens carry the uid, and the auth_time in `extra` (extraTokenClaims below).
 */
function loginOf(token: unknown): LoginRef | undefined {
  const t = token as { sessionUid?: string; authTime?: number; extra?: { auth_time?: unknown } } | undefined
  const authTime = t?.authTime ?? t?.extra?.auth_time
  return t?.sessionUid && typeof authTime === 'number' ? { sessionUid: t.sessionUid, authTime } : undefined
}

/** Whether a token's scope or requested claims ask for the `certificate` claim. */
function wantsCertificate(scope: string, claims: Record<string, unknown> | undefined): boolean {
  return scope.split(' ').includes('certificate') || (claims !== undefined && 'certificate' in claims)
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
  const requests = deps.requests ?? new RequestRows()
  const adapterDeps = { ...deps, requests, tokens: tokenLookup(deps.db, deps.clock), upserts: groupedUpserts(deps.db), exchanges: groupedExchanges(deps.db) }
  const configuration: Configuration = {
    adapter: (name: string) => new PostgresAdapter(name, adapterDeps),
    jwks: { keys: deps.jwks as unknown as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      // Keygrip-compatible, with the keys imported once (src/http/cookie-keys.ts).
      keys: new CookieKeys(deps.cookieKeys) as unknown as string[],
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
    },
    findAccount: async (ctx, sub, token) => {
      const subscriber = await deps.findSubscriber(sub)
      if (!subscriber) return undefined
      const releaseCi = ciAllowed(ctx.oidc?.client)
      const releaseCertificate = certificateAllowed(ctx.oidc?.client)
      const login = loginOf(token)
      return {
        accountId: sub,
        claims: async (_use, scope, claims) => {
          const certificate = releaseCertificate && login && wantsCertificate(scope, claims) ? await deps.loginCertificate(login) : undefined
          return {
            sub, name: subscriber.name, birthdate: subscriber.birthdate,
            phone_number: subscriber.phone_number, phone_number_verified: true,
            ...(releaseCi ? { ci: subscriber.ci } : {}),
            ...(certificate ? { certificate } : {}),
          }
        },
      }
    },
    // An access token remembers the auth_time of its login (also shown by introspection).
    extraTokenClaims: (ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined
      const { AuthorizationCode: code, RefreshToken: refresh } = ctx.oidc.entities as { AuthorizationCode?: { authTime?: number }; RefreshToken?: { authTime?: number } }
      const authTime = code?.authTime ?? refresh?.authTime
      return typeof authTime === 'number' ? { auth_time: authTime } : undefined
    },
    extraClientMetadata: {
      properties: POSTCERT_CLIENT_PROPERTIES,
      // Called once per property; the whole document is checked at the first (client-policy.ts).
      validator: (ctx, key, value, metadata) => {
        if (key !== CI_ALLOWED) return
        if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${CI_ALLOWED} must be true or false`)
        checkClientMetadata(ctx, metadata, { production: deps.production, issuer: deps.issuer })
      },
    },
    // FAPI 2.0 client assertions: the issuer as audience (oidc-provider's own check) and no RS256.
    assertJwtClientAuthClaimsAndHeader: async (ctx, claims, header) => {
      if (!ctx.oidc.isFapi('2.0')) return
      if (claims.aud !== ctx.oidc.issuer) throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url')
      if (!FAPI_SIGNING_ALGS.includes(asText(header.alg))) throw new errors.InvalidClientAuth(`FAPI 2.0 client assertions are signed with ${FAPI_SIGNING_ALGS.join(', ')}`)
    },
    // A different, stable subject for each sector (relying party), so institutions cannot link users.
    subjectTypes: ['pairwise', 'public'],
    pairwiseIdentifier: async (_ctx, accountId, client) => pairwiseSubject(deps.pairwiseKey, deps.issuer, client, accountId),
    // A sector document PostCert assigned is its own: there is nothing to fetch.
    sectorIdentifierUriValidate: (client) => !isOwnSector(deps.issuer, client.clientId, client.sectorIdentifierUri),
    acrValues: [...ACR_VALUES],
    // Registration at an institution is the consent: once given, it holds on every device, not
    // only in the browser session that gave it.
    loadExistingGrant: async (ctx) => {
      // Right after a login this is the first awaited hook that sees both the login result and
      // the session's uid (a new session gets its uid only here), so the certificate used is
      // remembered here, before any code is issued.
      const login = ctx.oidc.result?.login as Partial<PostcertLoginResult> | undefined
      const session = ctx.oidc.session!
      const clientId = ctx.oidc.client!.clientId
      const remember = login?.certificateSerial && session.loginTs
        ? deps.rememberLogin({ sessionUid: session.uid, authTime: session.loginTs }, login.certificateSerial, clientId)
        : undefined
      // Revoked, suspended or expired between the proof and now: the login opens nothing.
      const ended = () => new errors.AccessDenied('the certificate of this login is no longer valid')
      const accountId = session.accountId
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(clientId)
      const { Grant } = ctx.oidc.provider
      let grant
      if (!grantId && accountId) {
        // A returning subscriber: the login remembered in the statement that reads the registration.
        const found = await findRegisteredGrant(adapterDeps, Grant, accountId, clientId, remember)
        if (remember && !found.firstReturned) throw ended()
        grant = found.grant
      } else {
        if (remember && (await deps.db.executeQuery(remember)).rows.length !== 1) throw ended()
        grant = grantId ? await Grant.find(grantId) : undefined
      }
      // A grant of another subscriber, or an expired one, is no registration.
      if (grant && grant.accountId === accountId && grant.clientId === clientId) return grant
      // PostCert's own pages (the portal) are no institution to register with: openid only.
      if (accountId && deps.firstPartyClients.includes(clientId)) {
        const own = new Grant({ accountId, clientId })
        own.addOIDCScope('openid')
        await own.save()
        return own
      }
      return undefined
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: loginPolicy(deps.loginPolicy) },
    discovery: { ui_locales_supported: ['ko', 'en'] },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      // Electronic signatures are asked for with a `postcert_signature` detail (docs/signatures.md).
      richAuthorizationRequests: signatureRequests() as never,
      // oidc-provider wants a resource server for authorization details: PostCert's own signature
      // API. Other resource indicators are refused (invalid_target), as before.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, _client, oneOf) => oneOf ?? (ctx.oidc.params?.authorization_details ? signaturesResource(deps.issuer) : undefined),
        getResourceServerInfo: async (ctx, resource, client) => {
          if (resource === signaturesResource(deps.issuer)) return { scope: 'signatures', audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: deps.accessTokenSeconds }
          const server = deps.resourceServers.find((r) => r.resource === resource)
          if (!server) throw new errors.InvalidTarget()
          if (!server.clients.includes(client.clientId)) throw new errors.InvalidTarget('this client may not get tokens for this resource')
          // A JWT only for a service's own token: what a login opens stays opaque, so that its
          // certificate's revocation ends it at once (adapter.ts).
          const jwt = server.format === 'jwt' && ctx.oidc.params?.grant_type === 'client_credentials'
          return {
            scope: server.scope, audience: resource, accessTokenTTL: server.ttl ?? deps.accessTokenSeconds,
            ...(jwt ? { accessTokenFormat: 'jwt', jwt: { sign: { alg: server.alg } } } : { accessTokenFormat: 'opaque' }),
          }
        },
        useGrantedResource: async () => false,
      },
      clientCredentials: { enabled: true },
      // RFC 7591 registration with an operator's initial access token (`postcert iat create`),
      // RFC 7592 management with the registration access token it returns.
      registration: {
        enabled: true,
        initialAccessToken: true,
        policies: REGISTRATION_POLICIES,
        idFactory: () => `pc_${randomBytes(12).toString('base64url')}`,
        secretFactory: async () => randomBytes(32).toString('base64url'),
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      // The FAPI 2.0 Security Profile for clients registered under it (postcert_fapi_profile).
      fapi: { enabled: true, profile: (_ctx, client) => fapiProfileOf(client) },
      dPoP: { enabled: true },
      // Only the client a token was issued to learns about it: another institution would learn the
      // pairwise subject this one knows the subscriber by (it gets active: false, as for any
      // token it may not see).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      jwtIntrospection: { enabled: true },
      // RFC 7009 section 2.1: a client revokes its own tokens only.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
        },
      },
      userinfo: { enabled: true },
      // Signed userinfo responses for clients that register userinfo_signed_response_alg.
      jwtUserinfo: { enabled: true },
      // A logout token to each client of the ended session that registered backchannel_logout_uri.
      backchannelLogout: { enabled: true },
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
    ...(deps.fetch ? { fetch: deps.fetch }
      : deps.allowPrivateNetworkFetch
        ? { fetch: (url: Parameters<typeof fetch>[0], options?: RequestInit) => globalThis.fetch(url, { ...options, dispatcher: undefined }) }
        : {}),
    pkce: { required: (_ctx, client) => pkceRequired(client) },
    responseTypes: ['code'],
    // admin: the admin API's, for its clients only (client-policy.ts); every other client is limited
    // to the subscriber scopes by its default scope metadata.
    scopes: [...SUBSCRIBER_SCOPES, 'admin'],
    claims: Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([scope, claims]) => [scope, [...claims]])),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      scope: SUBSCRIBER_SCOPES.join(' '),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: DEFAULT_ID_TOKEN_ALG,
      subject_type: 'pairwise',
      backchannel_logout_session_required: true,
      introspection_signed_response_alg: 'ES256',
      // Every institution may ask for signatures unless the operator sets this to [] for it.
      authorization_details_types: [SIGNATURE_TYPE],
    },
    enabledJWA: {
      idTokenSigningAlgValues: [...SIGNING_ALGS],
      userinfoSigningAlgValues: [...SIGNING_ALGS],
      introspectionSigningAlgValues: [...SIGNING_ALGS],
      authorizationSigningAlgValues: [...SIGNING_ALGS],
      dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA', 'Ed25519'],
    },
    // Rotation limits a stolen refresh token of a bearer client. A FAPI client's tokens are
    // sender-constrained instead, and FAPI 2.0 (section 5.3.2.1) lets its previous refresh token
    // keep working, which rotation would break.
    rotateRefreshToken: (ctx) => !ctx.oidc.isFapi('2.0'),
    // A logout ends the session and its tokens, not the registration at the institution (the
    // grant holds on every device); revoking an access token revokes only that token. Code and
    // refresh-token reuse still revoke the whole grant.
    revokeGrantPolicy: (ctx) => !String(ctx.oidc.route).startsWith('end_session') && !(ctx.oidc.route === 'revocation' && ctx.oidc.entities.AccessToken),
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ttl: {
      // A resource server's own lifetime (RESOURCE_SERVERS), or ACCESS_TOKEN_SECONDS.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? deps.accessTokenSeconds,
      AuthorizationCode: TTL.AuthorizationCode,
      BackchannelAuthenticationRequest: TTL.BackchannelAuthenticationRequest,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? deps.accessTokenSeconds,
      DeviceCode: TTL.DeviceCode,
      Grant: TTL.Grant,
      IdToken: TTL.IdToken,
      Interaction: TTL.Interaction,
      PushedAuthorizationRequest: TTL.PushedAuthorizationRequest,
      RefreshToken: TTL.RefreshToken,
      Session: TTL.Session,
    },
    renderError: async (ctx, out) => {
      renderErrorPage(ctx, views, localeOf(ctx), { code: String(out.error), description: out.error_description, status: Number(ctx.status), source: 'provider' })
    },
  }
  skipJwtParseOfOpaqueTokens()
  const provider = new Provider(deps.issuer, configuration)
  provider.proxy = deps.trustProxy
  // Koa then takes the leftmost of the last `hops` entries: what the operator's nearest proxy saw
  // (the leftmost entry of all is whatever the client sent, and would defeat every per-address limit).
  provider.maxIpsCount = deps.trustedProxyHops
  // Outermost: discovery's and the JWKS's answers are kept as they finally leave (http/constant-answers.ts).
  if (deps.answers) provider.use(deps.answers.keep() as never)
  provider.use(spendInitialAccessToken as never)
  // Every request (PostCert's routes, mounted later, run within this too) is one for RequestRows;
  // what it still holds when it ends is made (adapter.ts settleRequest). The error handlers are
  // within, so a failed request ends here with its error answer set, not yet sent.
  provider.use((async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => await inRequest(ctx, async () => {
    try {
      await next()
    } finally {
      // A reuse found as the held consumption is made, or a code whose login ended meanwhile:
      // answered in place of what the request set (a redirect with that code among it).
      const refused = await settleRequest(deps.db, requests, ctx)
      if (refused) {
        ctx.remove('location')
        ctx.status = refused.statusCode
        ctx.body = { error: refused.error, error_description: refused.error_description }
      }
    }
  })) as never)
  provider.use(publishedKeysOnly as never)
  // Every ID token carries `sid` (oidc-provider adds it only for back-channel logout clients):
  // relying parties match RP-initiated and back-channel logouts to their sessions by it. It is
  // different at each institution (sidFor), so it links nothing across them.
  provider.Client.prototype.includeSid = () => true
  return provider
}
