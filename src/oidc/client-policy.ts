import { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider'
import { asText } from '../util/text.ts'

/** Client metadata the operator sets (never the client itself) to release the connecting identifier. */
export const CI_ALLOWED = 'postcert_ci_allowed'
/**
 * Client metadata the operator sets (never the client itself) to let a client have public
 * subjects (the same `sub` at every institution with them, so they can link their users) and to
 * release the `certificate` claim (its serial names the subscriber wherever it is shown).
 */
export const PUBLIC_SUBJECT_ALLOWED = 'postcert_public_subject_allowed'
export const CERTIFICATE_ALLOWED = 'postcert_certificate_allowed'
/** Client metadata: "2.0" puts a client under the FAPI 2.0 Security Profile (see fapiRules). */
export const FAPI_PROFILE = 'postcert_fapi_profile'
/**
 * Client metadata the operator sets (never the client itself): false lets a confidential client
 * omit PKCE, as OpenID Connect's certification plans do (they rely on nonce and client
 * authentication). Public and FAPI clients always use PKCE; everyone else does by default.
 */
export const PKCE_REQUIRED = 'postcert_pkce_required'
/**
 * Client metadata the operator sets (never the client itself): the client may call the admin API
 * with its client-credentials tokens of scope `admin` (admin/auth.ts). Such a client has the
 * client_credentials grant only: it never acts for a subscriber.
 */
export const ADMIN_API = 'postcert_admin_api'
/** The scopes an institution may ask for (every client's default scope metadata): all but admin. */
export const SUBSCRIBER_SCOPES = ['openid', 'offline_access', 'profile', 'phone', 'ci', 'certificate']
/** Names shown to subscribers in their language (RFC 7591 section 2.2 language tags). */
export const LOCALIZED_NAMES = ['client_name#ko', 'client_name#en'] as const
/**
 * What the institution declares for the registration page (개인정보 보호법 article 17): why it
 * wants the information and how long it keeps it, in each language (else the operator's defaults,
 * CONSENT_PURPOSE and CONSENT_RETENTION).
 */
export const CONSENT_TEXTS = ['postcert_purpose#ko', 'postcert_purpose#en', 'postcert_retention#ko', 'postcert_retention#en'] as const
/**
 * Client metadata: the scopes whose items the institution asks for as optional (space-separated):
 * the registration page offers them apart, not ticked, and login goes on without them.
 */
export const OPTIONAL_SCOPES = 'postcert_optional_scopes'
/** Scopes that may be optional: each gives items of its own (openid is the login itself). */
export const OPTIONABLE_SCOPES = ['profile', 'phone', 'ci', 'certificate', 'offline_access']

/** Every metadata property PostCert adds to oidc-provider's. The first one triggers the whole-document checks. */
export const POSTCERT_CLIENT_PROPERTIES = [CI_ALLOWED, FAPI_PROFILE, PKCE_REQUIRED, PUBLIC_SUBJECT_ALLOWED, CERTIFICATE_ALLOWED, ADMIN_API, ...LOCALIZED_NAMES, ...CONSENT_TEXTS, OPTIONAL_SCOPES]

/** What the FAPI 2.0 Security Profile allows for signatures (section 5.4: PS256, ES256, EdDSA). */
export const FAPI_SIGNING_ALGS = ['PS256', 'ES256', 'EdDSA']
/** The ID token algorithm of a FAPI 2.0 client that registers none (FAPI 2.0 allows no RS256, the general default). */
export const FAPI_DEFAULT_ID_TOKEN_ALG = 'ES256'

/** Initial access token policies (`postcert iat create --ci / --fapi`), run before the checks below. */
export const REGISTRATION_POLICIES = {
  /** The operator approved this institution for the connecting identifier. */
  ci: (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => { properties[CI_ALLOWED] = true },
  /** The institution must register under the FAPI 2.0 profile. */
  fapi2: (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => { properties[FAPI_PROFILE] = '2.0' },
  /** The operator approved public subjects for this token's clients. */
  'public-subject': (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => { properties[PUBLIC_SUBJECT_ALLOWED] = true },
  /** The operator approved the `certificate` claim for this token's clients. */
  certificate: (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => { properties[CERTIFICATE_ALLOWED] = true },
  /** The operator exempts this token's confidential clients from PKCE (the certification suite's clients). */
  'pkce-optional': (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => { properties[PKCE_REQUIRED] = false },
  /** A marker, not a rule: the token may register more than one client until it expires. */
  reusable: () => {},
}

/**
 * Whether the operator allowed this client the connecting identifier. oidc-provider keeps extra
 * metadata on the client under its own name; client.metadata() would rebuild the whole document.
 */
export function ciAllowed(client: Client | undefined): boolean {
  return (client as unknown as Record<string, unknown> | undefined)?.[CI_ALLOWED] === true
}

/** Whether the operator allowed this client the `certificate` claim. */
export function certificateAllowed(client: Client | undefined): boolean {
  return (client as unknown as Record<string, unknown> | undefined)?.[CERTIFICATE_ALLOWED] === true
}

/** The scopes the client asks for as optional (OPTIONAL_SCOPES). */
export function optionalScopes(client: Client | undefined): string[] {
  const value = (client as unknown as Record<string, unknown> | undefined)?.[OPTIONAL_SCOPES]
  return typeof value === 'string' ? value.split(' ').filter(Boolean) : []
}

/** The client's own consent text (`postcert_purpose` or `postcert_retention`) in `locale`, if it registered one. */
export function consentText(client: Client | undefined, key: 'postcert_purpose' | 'postcert_retention', locale: string): string | undefined {
  const value = (client as unknown as Record<string, unknown> | undefined)?.[`${key}#${locale}`]
  return typeof value === 'string' ? value : undefined
}

/** Whether a claim can go to this client at all: the connecting identifier and the certificate only with the operator's approval. */
export function releasableTo(client: Client | undefined, claim: string): boolean {
  return (claim !== 'ci' || ciAllowed(client)) && (claim !== 'certificate' || certificateAllowed(client))
}

/** Whether this client's authorization requests must carry PKCE (pkce.required). */
export function pkceRequired(client: Client): boolean {
  return (client as unknown as Record<string, unknown>)[PKCE_REQUIRED] !== false || client.clientAuthMethod === 'none' || fapiProfileOf(client) !== undefined
}

/** The FAPI profile oidc-provider applies to a request of this client (features.fapi.profile). */
export function fapiProfileOf(client: Client | undefined): '2.0' | undefined {
  return (client as unknown as Record<string, unknown> | undefined)?.[FAPI_PROFILE] === '2.0' ? '2.0' : undefined
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
/** URIs shown to subscribers as links: they must not be downgraded or point at a local file. */
const PAGE_URIS = ['logo_uri', 'policy_uri', 'tos_uri', 'client_uri']

type Metadata = Record<string, unknown>

/**
 * PostCert's client policy, applied by oidc-provider's extraClientMetadata validator before its
 * own checks: at dynamic registration and its updates, when the operator adds a client, and
 * whenever a stored client is loaded (so a rule added later also holds for older clients).
 *
 * Checks:
 * - redirect URIs are exact https URLs (http only on a loopback host outside production):
 *   no wildcard, no fragment, no user info;
 * - post-logout redirect URIs follow the same rule;
 * - logo, policy, terms and client URIs are https;
 * - `jwks` and `jwks_uri` are not both given, and private_key_jwt has one of them;
 * - localized names are non-empty strings; the consent texts plain text of 1 to 200 characters;
 *   the optional scopes among those that give items of their own;
 * - the connecting identifier, public subjects, the `certificate` claim and the PKCE exemption
 *   are never granted by a client itself (registration keeps them only from an operator's initial
 *   access token, an update keeps what was stored), and public and FAPI clients are never exempt
 *   from PKCE;
 * - subject_type public only with the operator's approval;
 * - FAPI 2.0 clients satisfy fapiRules;
 * - a pairwise client with redirect URIs on several hosts and no sector_identifier_uri gets a
 *   sector of its own (assignOwnSector).
 *
 * Throws InvalidClientMetadata, which oidc-provider answers as invalid_redirect_uri when the
 * message is about redirect_uris (RFC 7591 section 3.2.2).
 */
export function checkClientMetadata(ctx: KoaContextWithOIDC | undefined, metadata: Metadata, options: { production: boolean; issuer: string }): void {
  keepOperatorGrants(ctx, metadata)
  assignOwnSector(metadata, options.issuer)
  // oidc-provider answers invalid_redirect_uri for a message about redirect_uris, invalid_client_metadata otherwise.
  for (const uri of list(metadata.redirect_uris)) checkRedirectUri(uri, 'redirect_uris', options)
  for (const uri of list(metadata.post_logout_redirect_uris)) checkRedirectUri(uri, 'post_logout_redirect_uris', options)
  for (const key of PAGE_URIS) {
    const value = metadata[key]
    if (value !== undefined && (typeof value !== 'string' || URL.parse(value)?.protocol !== 'https:')) throw new errors.InvalidClientMetadata(`${key} must be an https URL`)
  }
  if (metadata.jwks !== undefined && metadata.jwks_uri !== undefined) throw new errors.InvalidClientMetadata('jwks and jwks_uri must not both be given')
  if (metadata.token_endpoint_auth_method === 'private_key_jwt' && metadata.jwks === undefined && metadata.jwks_uri === undefined) {
    throw new errors.InvalidClientMetadata('private_key_jwt needs the client\'s public keys: jwks or jwks_uri')
  }
  for (const key of LOCALIZED_NAMES) {
    const value = metadata[key]
    if (value !== undefined && (typeof value !== 'string' || !value.trim())) throw new errors.InvalidClientMetadata(`${key} must be a non-empty string`)
  }
  for (const key of CONSENT_TEXTS) {
    const value = metadata[key]
    if (value !== undefined && (typeof value !== 'string' || !value.trim() || value.length > 200 || /[<>\p{Cc}]/u.test(value))) {
      throw new errors.InvalidClientMetadata(`${key} must be plain text of 1 to 200 characters`)
    }
  }
  const optional = metadata[OPTIONAL_SCOPES]
  if (optional !== undefined && (typeof optional !== 'string' || !optional.split(' ').every((s) => OPTIONABLE_SCOPES.includes(s)))) {
    throw new errors.InvalidClientMetadata(`${OPTIONAL_SCOPES} must be some of ${OPTIONABLE_SCOPES.join(', ')}, separated by spaces`)
  }
  for (const flag of [PUBLIC_SUBJECT_ALLOWED, CERTIFICATE_ALLOWED, ADMIN_API]) {
    if (metadata[flag] !== undefined && typeof metadata[flag] !== 'boolean') throw new errors.InvalidClientMetadata(`${flag} must be true or false`)
  }
  // The same sub at every institution with public subjects: they could link their users.
  if (metadata.subject_type === 'public' && metadata[PUBLIC_SUBJECT_ALLOWED] !== true) {
    throw new errors.InvalidClientMetadata('subject_type public needs the operator\'s approval (postcert clients add --public-subject, or an initial access token from postcert iat create --public-subject)')
  }
  if (metadata[ADMIN_API] !== true && typeof metadata.scope === 'string' && metadata.scope.split(' ').includes('admin')) {
    throw new errors.InvalidClientMetadata('scope admin is for the operator\'s admin API clients (postcert clients add --admin)')
  }
  if (metadata[ADMIN_API] === true) {
    const grants = list(metadata.grant_types)
    if (grants.length !== 1 || grants[0] !== 'client_credentials' || list(metadata.redirect_uris).length) {
      throw new errors.InvalidClientMetadata('an admin API client has the client_credentials grant only, and no redirect URIs')
    }
    if (metadata.token_endpoint_auth_method === 'none') throw new errors.InvalidClientMetadata('an admin API client authenticates')
  }
  const pkce = metadata[PKCE_REQUIRED]
  if (pkce !== undefined && typeof pkce !== 'boolean') throw new errors.InvalidClientMetadata(`${PKCE_REQUIRED} must be true or false`)
  if (pkce === false && (metadata.token_endpoint_auth_method === 'none' || metadata[FAPI_PROFILE] !== undefined)) {
    throw new errors.InvalidClientMetadata('public and FAPI clients always use PKCE')
  }
  const profile = metadata[FAPI_PROFILE]
  if (profile !== undefined && profile !== '2.0') throw new errors.InvalidClientMetadata(`${FAPI_PROFILE} must be "2.0" when given`)
  if (profile === '2.0') fapiRules(ctx, metadata)
}

/**
 * FAPI 2.0 Security Profile (final), for a client registered under it:
 * - authorization code only (refresh tokens allowed), response type `code`;
 * - private_key_jwt client authentication, with PS256, ES256 or EdDSA assertions;
 * - PAR required and DPoP-bound tokens: always set, and a registration that turns them off is refused;
 * - ID tokens signed with PS256, ES256 or EdDSA; ES256 when the registration names none.
 * PKCE S256 (never exempt for them), the 60-second code lifetime and `iss` in the response are
 * set for every client elsewhere (pkceRequired, TTL.AuthorizationCode, oidc-provider).
 */
function fapiRules(ctx: KoaContextWithOIDC | undefined, metadata: Metadata): void {
  const body = sent(ctx)
  const grants = list(metadata.grant_types)
  const other = grants.find((g) => g !== 'authorization_code' && g !== 'refresh_token')
  if (other || !grants.includes('authorization_code')) throw new errors.InvalidClientMetadata(`FAPI 2.0 clients use the authorization code grant only${other ? `, not ${asText(other, JSON.stringify(other))}` : ''}`)
  if (list(metadata.response_types).some((t) => t !== 'code')) throw new errors.InvalidClientMetadata('FAPI 2.0 clients use response_type code only')
  if (metadata.token_endpoint_auth_method !== 'private_key_jwt') throw new errors.InvalidClientMetadata('FAPI 2.0 clients authenticate with private_key_jwt')
  const assertionAlg = metadata.token_endpoint_auth_signing_alg
  if (assertionAlg !== undefined && !FAPI_SIGNING_ALGS.includes(asText(assertionAlg))) {
    throw new errors.InvalidClientMetadata(`FAPI 2.0 client assertions are signed with ${FAPI_SIGNING_ALGS.join(', ')}`)
  }
  // The general default (RS256) is not for FAPI clients: a registration that names no algorithm gets theirs.
  if (isRegistration(ctx) && body.id_token_signed_response_alg === undefined) metadata.id_token_signed_response_alg = FAPI_DEFAULT_ID_TOKEN_ALG
  if (!FAPI_SIGNING_ALGS.includes(String(metadata.id_token_signed_response_alg))) {
    throw new errors.InvalidClientMetadata(`FAPI 2.0 ID tokens are signed with ${FAPI_SIGNING_ALGS.join(', ')}`)
  }
  for (const key of ['require_pushed_authorization_requests', 'dpop_bound_access_tokens']) {
    // oidc-provider fills in false as the default, so only what the client sent is refused.
    if (body[key] === false) throw new errors.InvalidClientMetadata(`FAPI 2.0 clients must have ${key}`)
    metadata[key] = true
  }
}

function checkRedirectUri(uri: unknown, label: string, { production }: { production: boolean }): void {
  const Err = errors.InvalidClientMetadata
  const url = typeof uri === 'string' ? URL.parse(uri) : null
  if (!url) throw new Err(`${label} must only contain absolute URLs`)
  if (String(uri).includes('*')) throw new Err(`${label} must be exact: wildcards are not allowed`)
  if (String(uri).includes('#')) throw new Err(`${label} must not contain fragments`)
  if (url.username || url.password) throw new Err(`${label} must not contain user information`)
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname) && !production) return
  throw new Err(production ? `${label} must use https` : `${label} must use https (http only on localhost outside production)`)
}

/** What only the operator grants, with the initial access token policy that grants it at registration. */
const OPERATOR_GRANTS = [[CI_ALLOWED, 'ci'], [PKCE_REQUIRED, 'pkce-optional'], [PUBLIC_SUBJECT_ALLOWED, 'public-subject'], [CERTIFICATE_ALLOWED, 'certificate']] as const

/**
 * The connecting identifier and the PKCE exemption come only from the operator: at registration
 * through an initial access token carrying the policy (which has already set them), at an update
 * as stored before. Whatever the client sent itself is dropped. The admin API never comes from
 * registration, whatever the token: only the operator's commands set it.
 */
function keepOperatorGrants(ctx: KoaContextWithOIDC | undefined, metadata: Metadata): void {
  const route = ctx?.oidc?.route
  if (route !== 'registration' && route !== 'client_update') return
  const policies = (ctx!.oidc.entities.InitialAccessToken as { policies?: string[] } | undefined)?.policies ?? []
  const stored = ctx!.oidc.entities.Client as unknown as Metadata | undefined
  if (route === 'registration' || stored?.[ADMIN_API] === undefined) delete metadata[ADMIN_API]
  else metadata[ADMIN_API] = stored[ADMIN_API]
  for (const [property, policy] of OPERATOR_GRANTS) {
    const granted = route === 'registration' ? (policies.includes(policy) ? metadata[property] : undefined) : stored?.[property]
    if (granted === undefined) delete metadata[property]
    else metadata[property] = granted
  }
}

/**
 * The sector document PostCert publishes for a client it gave a sector of its own. oidc-provider
 * takes only https sector URIs; with an http issuer (development) the URI still says https: it
 * is never fetched, PostCert knows it.
 */
export const ownSectorUri = (issuer: string, clientId: string) => `${sectorBase(issuer)}${encodeURIComponent(clientId)}`
const sectorBase = (issuer: string) => `${issuer.replace(/^http:/, 'https:')}/sectors/`

/** Whether this is the sector PostCert gave the client (never fetched: PostCert wrote it). */
export const isOwnSector = (issuer: string, clientId: string, uri: string | undefined) => uri !== undefined && uri === ownSectorUri(issuer, clientId)

/**
 * OpenID Connect derives a pairwise sector from the redirect URIs' one host, and asks a client
 * whose redirect URIs span several hosts to register a sector_identifier_uri. Instead of refusing
 * such a client (subjects stay pairwise by default, so it never chose them), PostCert gives it a
 * sector of its own, published at /sectors/{client_id}: its subjects are its alone, which links
 * nothing. Clients that should share subjects register a sector document themselves.
 */
function assignOwnSector(metadata: Metadata, issuer: string): void {
  const uri = metadata.sector_identifier_uri
  // Another client's PostCert sector would give this one the same subjects: never.
  if (typeof uri === 'string' && uri.startsWith(sectorBase(issuer)) && !isOwnSector(issuer, String(metadata.client_id), uri)) {
    throw new errors.InvalidClientMetadata('sector_identifier_uri names a sector PostCert gave another client')
  }
  if (metadata.subject_type !== 'pairwise' || uri !== undefined || typeof metadata.client_id !== 'string') return
  const hosts = new Set(list(metadata.redirect_uris).map((uri) => (typeof uri === 'string' ? URL.parse(uri)?.host : undefined)))
  if (hosts.size > 1) metadata.sector_identifier_uri = ownSectorUri(issuer, metadata.client_id)
}

/** The metadata a registration or update request sent, or nothing when a stored client is loaded. */
/** A dynamic registration or its update (RFC 7591, 7592), as opposed to loading a stored client. */
function isRegistration(ctx: KoaContextWithOIDC | undefined): ctx is KoaContextWithOIDC {
  const route = ctx?.oidc?.route
  return route === 'registration' || route === 'client_update'
}

/** What a registration request sent itself (before oidc-provider's defaults). */
function sent(ctx: KoaContextWithOIDC | undefined): Metadata {
  return isRegistration(ctx) ? (ctx.oidc.body) ?? {} : {}
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** The institution's name as a subscriber reading `locale` should see it. */
export function displayName(client: Client | undefined, locale: string, fallback: string): string {
  const localized = (client as unknown as Record<string, unknown> | undefined)?.[`client_name#${locale}`]
  return typeof localized === 'string' ? localized : client?.clientName ?? fallback
}
