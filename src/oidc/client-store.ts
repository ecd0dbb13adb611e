import { randomBytes } from 'node:crypto'
import type Provider from 'oidc-provider'
import { errors } from 'oidc-provider'
import type { Database } from '../db/database.ts'
import type { ChangeNotices } from '../db/change-notices.ts'
import { invalidRequest, notFound } from '../errors/errors.ts'
import type { AdapterDeps } from './adapter.ts'
import { deleteClientCredentials, PostgresAdapter } from './adapter.ts'
import { ADMIN_API, CERTIFICATE_ALLOWED, CI_ALLOWED, FAPI_DEFAULT_ID_TOKEN_ALG, FAPI_PROFILE, PKCE_REQUIRED, PUBLIC_SUBJECT_ALLOWED } from './client-policy.ts'

export interface NewClient {
  name: string
  clientId?: string
  public?: boolean
  redirectUris?: string[]
  postLogoutRedirectUris?: string[]
  grantTypes?: string[]
  authMethod?: string
  scope?: string
  /** Any other client metadata (RFC 7591 names), e.g. id_token_signed_response_alg. */
  metadata?: Record<string, unknown>
  /** Under the FAPI 2.0 profile: PAR, DPoP-bound tokens, private_key_jwt (its jwks in metadata). */
  fapi?: boolean
  /** The operator releases the connecting identifier to this client. */
  ci?: boolean
  /** Public subjects (the same sub everywhere): the operator's approval. */
  publicSubject?: boolean
  /** Release the `certificate` claim: the operator's approval. */
  certificateClaim?: boolean
  /** The operator lets this confidential client omit PKCE (certification clients). */
  pkceOptional?: boolean
  /** A client of the admin API (client_credentials only, tokens of scope admin). */
  admin?: boolean
}

export type ClientMetadata = Record<string, unknown> & { client_id: string }

/**
 * Relying parties registered by the operator. Metadata is validated by oidc-provider itself
 * (the same rules as at request time) before it is stored; secrets are sealed by the adapter.
 *
 * Throws: InvalidRequestError for metadata oidc-provider refuses or a duplicate client_id,
 * NotFoundError for an unknown client_id.
 */
export class ClientStore {
  readonly #db: Database
  readonly #changes: ChangeNotices | undefined
  readonly #adapter: PostgresAdapter
  readonly #provider: () => Provider

  constructor(deps: AdapterDeps, provider: () => Provider) {
    this.#db = deps.db
    this.#changes = deps.changes
    this.#adapter = new PostgresAdapter('Client', deps)
    this.#provider = provider
  }

  /** Returns the stored metadata, including the client_secret: the only time it is shown. */
  async add(input: NewClient): Promise<ClientMetadata> {
    const redirectUris = input.redirectUris ?? []
    const grantTypes = input.grantTypes ?? (redirectUris.length && !input.admin ? ['authorization_code', 'refresh_token'] : ['client_credentials'])
    // Free-form metadata carries RFC 7591 fields, never what PostCert decides itself: the admin API
    // flag (an operator identity, set with `admin` only) and the secret (generated here).
    for (const key of [ADMIN_API, 'client_secret', 'sealed_client_secret', 'client_id', 'client_id_issued_at']) {
      if (input.metadata && key in input.metadata) throw invalidRequest(`metadata must not set ${key}${key === ADMIN_API ? ' (an admin API client is made with admin: postcert clients add --admin)' : ''}`)
    }
    const authMethod = input.authMethod ?? (input.public ? 'none' : input.fapi ? 'private_key_jwt' : 'client_secret_basic')
    if (input.public && authMethod !== 'none') throw invalidRequest('a public client authenticates with "none"')
    const metadata: ClientMetadata = {
      ...input.metadata,
      client_id: input.clientId ?? `pc_${randomBytes(12).toString('base64url')}`,
      client_id_issued_at: Math.floor(Date.now() / 1000),
      client_name: input.name,
      redirect_uris: redirectUris,
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      token_endpoint_auth_method: authMethod,
      ...(input.postLogoutRedirectUris?.length ? { post_logout_redirect_uris: input.postLogoutRedirectUris } : {}),
      ...(input.scope ? { scope: input.scope } : {}),
      ...(input.ci ? { [CI_ALLOWED]: true } : {}),
      ...(input.publicSubject ? { [PUBLIC_SUBJECT_ALLOWED]: true } : {}),
      ...(input.certificateClaim ? { [CERTIFICATE_ALLOWED]: true } : {}),
      ...(input.pkceOptional ? { [PKCE_REQUIRED]: false } : {}),
      ...(input.admin ? { [ADMIN_API]: true, scope: 'admin' } : {}),
      // What client-policy.ts requires of a FAPI client, written out so the stored document says it.
      ...(input.fapi ? {
        [FAPI_PROFILE]: '2.0', require_pushed_authorization_requests: true, dpop_bound_access_tokens: true,
        id_token_signed_response_alg: input.metadata?.id_token_signed_response_alg ?? FAPI_DEFAULT_ID_TOKEN_ALG,
      } : {}),
    }
    if (authMethod !== 'none' && authMethod !== 'private_key_jwt') {
      metadata.client_secret = randomBytes(32).toString('base64url')
    }
    try {
      await this.#provider().Client.validate(metadata)
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) throw invalidRequest(err.error_description ?? err.message, { cause: err })
      throw err
    }
    if (await this.#adapter.find(metadata.client_id)) throw invalidRequest(`client ${metadata.client_id} already exists`)
    await this.#adapter.upsert(metadata.client_id, metadata, 0)
    return metadata
  }

  /**
   * A new client_secret for a client that authenticates with one, shown once: the old one stops
   * working (running servers within the 10 s they keep a client's metadata).
   */
  async rotateSecret(clientId: string): Promise<{ client_id: string; client_secret: string }> {
    const found = await this.#adapter.find(clientId) as ClientMetadata | undefined
    if (!found) throw notFound(`no client ${clientId}`)
    return await this.#rotate(found)
  }

  /** Whether the client is an admin API client (an operator identity). */
  async isAdmin(clientId: string): Promise<boolean> {
    return ((await this.#adapter.find(clientId)) as ClientMetadata | undefined)?.[ADMIN_API] === true
  }

  async #rotate(found: ClientMetadata): Promise<{ client_id: string; client_secret: string }> {
    const clientId = found.client_id
    const method = found.token_endpoint_auth_method ?? 'client_secret_basic'
    if (method === 'none' || method === 'private_key_jwt') throw invalidRequest(`client ${clientId} authenticates with ${String(method)}: it has no secret`)
    const { sealed_client_secret: _sealed, ...rest } = found
    const secret = randomBytes(32).toString('base64url')
    await this.#adapter.upsert(clientId, { ...rest, client_secret: secret }, 0)
    await deleteClientCredentials(this.#db, clientId)
    // Announced again once they are gone: an instance that kept one of them meanwhile drops it (hot-tokens.ts).
    await this.#changes?.announce(this.#db, 'client', clientId)
    return { client_id: clientId, client_secret: secret }
  }

  async show(clientId: string): Promise<ClientMetadata> {
    const found = await this.#adapter.find(clientId)
    if (!found) throw notFound(`no client ${clientId}`)
    return withoutSecret(found as ClientMetadata)
  }

  async list(): Promise<ClientMetadata[]> {
    const rows = await this.#db.selectFrom('oidc_payload').select('payload').where('model', '=', 'Client').orderBy('id').execute()
    return rows.map((r) => withoutSecret(JSON.parse(r.payload) as ClientMetadata))
  }

  async remove(clientId: string): Promise<void> {
    if (!(await this.#adapter.find(clientId))) throw notFound(`no client ${clientId}`)
    await this.#adapter.destroy(clientId)
  }
}

function withoutSecret(metadata: ClientMetadata): ClientMetadata {
  const { client_secret: _secret, sealed_client_secret: _sealed, ...rest } = metadata
  return rest
}
