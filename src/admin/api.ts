import { createHash } from 'node:crypto'
import type Provider from 'oidc-provider'
import { z } from 'zod'
import type { AuditEventType, AuditLog } from '../audit/audit-log.ts'
import type { CertificateAuthority, CertificateRecord } from '../ca/authority.ts'
import { OPERATOR_REVOCATION_REASONS } from '../ca/constants.ts'
import { certificateNotFound } from '../ca/errors.ts'
import type { CaHierarchy } from '../ca/hierarchy.ts'
import { canonicalSerial } from '../ca/x509.ts'
import type { Database } from '../db/database.ts'
import { invalidRequest, notFound } from '../errors/errors.ts'
import { ADMIN_API } from '../oidc/client-policy.ts'
import type { ClientStore } from '../oidc/client-store.ts'
import { createInitialAccessToken } from '../oidc/initial-access-token.ts'
import type { SigningKeyStore } from '../keys/signing-keys.ts'
import { normalizeKoreanMobile } from '../phone/phone-number.ts'
import type { Registrations } from '../registrations/registrations.ts'
import { signStatement, type ReceiptSigner } from '../signing/receipt.ts'
import type { SubscriberStore, Subscriber } from '../subscribers/subscriber-store.ts'
import type { Clock } from '../util/clock.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import { DUAL_CONTROL, type Approvals } from './approvals.ts'
import { OPERATOR_NAME, type Operators } from './operators.ts'
import { consoleOnly, dualControlRequired } from './errors.ts'
import { isConsole, type Actor } from './auth.ts'

/** What the admin API works with: the services the CLI uses too. */
export interface AdminDeps {
  db: Database
  clock: Clock
  issuer: string
  keyRefreshSeconds: number
  provider: () => Provider
  clients: ClientStore
  signingKeys: SigningKeyStore
  ca: CaHierarchy
  authority: CertificateAuthority
  subscribers: SubscriberStore
  registrations: Registrations
  audit: AuditLog
  receipts: ReceiptSigner
  approvals: Approvals
  limiter: RateLimiter
  operators: Operators
}

/**
 * Certificate status changes one operator may make one by one in an hour; beyond, the rest is a
 * bulk revocation under dual control (otherwise one operator revokes everyone a certificate at a time).
 */
export const SINGLE_CHANGES_PER_HOUR = 30

/** A request's validated parts. */
export interface AdminInput {
  params: Record<string, string>
  query: Record<string, unknown>
  body: unknown
}

/**
 * One admin route: its method and path (OpenAPI form, `{name}`), what it takes and answers as zod
 * schemas (the OpenAPI document is generated from them, openapi.ts), and what it does for an
 * actor. `public` routes need no token.
 */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  operationId: string
  summary: string
  tag: string
  params?: z.ZodObject
  query?: z.ZodObject
  body?: z.ZodObject
  status?: 200 | 201
  response: z.ZodType
  /** A JSON lines download instead of one JSON document. */
  jsonLines?: boolean
  /** Counted against the operator's hourly allowance (429 dual_control_required beyond). */
  limited?: boolean
  public?: boolean
  handle: (input: AdminInput, actor: Actor | undefined) => Promise<unknown>
}

const timestamp = z.iso.datetime().describe('ISO 8601, UTC')
const nullableTimestamp = timestamp.nullable()
const serial = z.string().regex(/^[0-9a-fA-F]{1,40}$/, { error: 'a certificate serial is hex' }).describe('the certificate serial, hex')
const clientId = z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, { error: 'a client_id is letters, digits, _ and -' })
const flag = z.boolean().optional()
const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback)
  .describe(`page size, 1 to ${max} (default ${fallback})`)
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null)
const error = z.object({ error: z.string(), error_description: z.string() })

export const SCHEMAS = {
  error,
  client: z.looseObject({ client_id: z.string(), client_name: z.string().optional() }).describe('RFC 7591 client metadata (never its secret)'),
  clientCreated: z.looseObject({ client_id: z.string(), client_secret: z.string().optional() }).describe('the new client\'s metadata, with its client_secret: the only time it is shown'),
  certificate: z.object({
    serial: z.string(), subscriber_id: z.string(), holder: z.enum(['passkey', 'file']),
    status: z.enum(['good', 'suspended', 'revoked']), expired: z.boolean(),
    not_before: timestamp, not_after: timestamp, revoked_at: nullableTimestamp,
    revocation_reason: z.string().nullable(), replaced_by: z.string().nullable(),
  }),
  approval: z.object({
    id: z.string(), action: z.string(), params: z.record(z.string(), z.unknown()),
    status: z.enum(['pending', 'executing', 'executed', 'failed', 'rejected', 'expired']),
    requested_by: z.string(), requested_at: timestamp, expires_at: timestamp,
    decided_by: z.string().nullable(), decided_at: nullableTimestamp, result: z.record(z.string(), z.unknown()).nullable(),
  }),
  operator: z.object({
    name: z.string(), invited_by: z.string(), created_at: timestamp, passkeys: z.number().int(),
    invitation_expires_at: nullableTimestamp, disabled_at: nullableTimestamp, last_sign_in_at: nullableTimestamp,
  }),
  auditEvent: z.object({
    id: z.number().int(), occurred_at: timestamp, type: z.string(),
    subscriber_id: z.string().nullable(), certificate_serial: z.string().nullable(), data: z.record(z.string(), z.unknown()),
  }),
}

function certificateView(c: CertificateRecord, now: Date): z.infer<typeof SCHEMAS.certificate> {
  return {
    serial: c.serial, subscriber_id: c.subscriberId, holder: c.holder, status: c.status === 'hold' ? 'suspended' : c.status,
    expired: c.notAfter <= now, not_before: c.notBefore.toISOString(), not_after: c.notAfter.toISOString(),
    revoked_at: iso(c.revokedAt), revocation_reason: c.revocationReason, replaced_by: c.replacedBy,
  }
}

function subscriberView(s: Subscriber) {
  return { id: s.id, name: s.name, birthdate: s.birthdate, phone: s.phone_e164, document_type: s.document_type, created_at: s.created_at.toISOString() }
}

const subscriberSchema = z.object({ id: z.string(), name: z.string(), birthdate: z.string(), phone: z.string(), document_type: z.string(), created_at: timestamp })

/** The admin API: every route of the management listener but its documents (app.ts). */
export function adminRoutes(deps: AdminDeps): AdminRoute[] {
  const record = async (type: AuditEventType, actor: Actor | undefined, data: Record<string, unknown>, subscriberId?: string) =>
    await deps.audit.record(deps.db, { type, subscriberId, data: { actor: actor?.id ?? 'unknown', ...data } })
  // Another operator's identity (an admin API client) is managed at the server's console only:
  // an API client taking it over could approve its own dual-control requests.
  const operatorIdentity = async (clientId: string, actor: Actor | undefined, what: string) => {
    if (!isConsole(actor) && await deps.clients.isAdmin(clientId)) throw consoleOnly(what)
  }
  // Reading a subscriber's personal data is an event of their own: they see it in their activity.
  const viewed = async (subscriberId: string, actor: Actor | undefined, what: string) =>
    await record('operator.subscriber_viewed', actor, { what }, subscriberId)
  const statusChange = async (actor: Actor | undefined) => {
    const decision = await deps.limiter.hit(`admin-status:${actor?.id ?? 'unknown'}`, SINGLE_CHANGES_PER_HOUR, 3600)
    if (!decision.allowed) throw dualControlRequired(SINGLE_CHANGES_PER_HOUR, decision.retryAfterSeconds)
  }
  const certificate = async (serialText: string) => {
    const found = await deps.authority.find(serialText)
    if (!found) throw certificateNotFound(serialText.toLowerCase())
    return found
  }

  return [
    {
      method: 'GET', path: '/clients', operationId: 'listClients', tag: 'clients', summary: 'Registered clients (relying parties and admin API clients)',
      response: z.object({ clients: z.array(SCHEMAS.client) }),
      handle: async () => ({ clients: await deps.clients.list() }),
    },
    {
      method: 'POST', path: '/clients', operationId: 'addClient', tag: 'clients', status: 201,
      summary: 'Registers a client; its metadata is checked as at dynamic registration, and the client_secret is shown once',
      body: z.object({
        client_name: z.string().min(1).max(200),
        client_id: clientId.optional(),
        redirect_uris: z.array(z.string()).max(20).optional(),
        post_logout_redirect_uris: z.array(z.string()).max(20).optional(),
        grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).optional(),
        token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']).optional(),
        scope: z.string().max(500).optional(),
        metadata: z.record(z.string(), z.unknown()).optional().describe('any other RFC 7591 metadata'),
        fapi: flag.describe('under the FAPI 2.0 profile (give jwks in metadata)'),
        ci: flag.describe('releases the connecting identifier'),
        public_subject: flag.describe('may register subject_type public'),
        certificate_claim: flag.describe('releases the certificate claim'),
        pkce_optional: flag.describe('a confidential client may omit PKCE'),
        admin: flag.describe('an admin API client: client_credentials only, tokens of scope admin; only at the server\'s console (403 console_only for an API client)'),
      }),
      response: SCHEMAS.clientCreated,
      handle: async ({ body }, actor) => {
        const b = body as Record<string, unknown> & { client_name: string }
        // An admin client is an operator identity: an API client minting a second one could approve
        // its own dual-control requests.
        if (b.admin === true && !isConsole(actor)) throw consoleOnly('admin API clients are created')
        const created = await deps.clients.add({
          name: b.client_name, clientId: b.client_id as string | undefined,
          public: b.token_endpoint_auth_method === 'none', redirectUris: b.redirect_uris as string[] | undefined,
          postLogoutRedirectUris: b.post_logout_redirect_uris as string[] | undefined, grantTypes: b.grant_types as string[] | undefined,
          authMethod: b.token_endpoint_auth_method as string | undefined, scope: b.scope as string | undefined,
          metadata: b.metadata as Record<string, unknown> | undefined, fapi: b.fapi === true, ci: b.ci === true,
          publicSubject: b.public_subject === true, certificateClaim: b.certificate_claim === true, pkceOptional: b.pkce_optional === true, admin: b.admin === true,
        })
        await record('operator.client_added', actor, { client_id: created.client_id, admin: created[ADMIN_API] === true })
        return created
      },
    },
    {
      method: 'GET', path: '/clients/{clientId}', operationId: 'showClient', tag: 'clients', summary: 'One client\'s metadata (never its secret)',
      params: z.object({ clientId }), response: SCHEMAS.client,
      handle: async ({ params }) => await deps.clients.show(params.clientId!),
    },
    {
      method: 'DELETE', path: '/clients/{clientId}', operationId: 'removeClient', tag: 'clients', summary: 'Deletes a client: its tokens stop working',
      params: z.object({ clientId }), response: z.object({ removed: z.string() }),
      handle: async ({ params }, actor) => {
        await operatorIdentity(params.clientId!, actor, 'admin API clients are removed')
        await deps.clients.remove(params.clientId!)
        await record('operator.client_removed', actor, { client_id: params.clientId })
        return { removed: params.clientId! }
      },
    },
    {
      method: 'POST', path: '/clients/{clientId}/secret', operationId: 'rotateClientSecret', tag: 'clients',
      summary: 'A new client_secret, shown once; the old one stops working (running servers within 10 s)',
      params: z.object({ clientId }), response: z.object({ client_id: z.string(), client_secret: z.string() }),
      handle: async ({ params }, actor) => {
        await operatorIdentity(params.clientId!, actor, 'the secrets of admin API clients are rotated')
        const rotated = await deps.clients.rotateSecret(params.clientId!)
        await record('operator.client_secret_rotated', actor, { client_id: params.clientId })
        return rotated
      },
    },
    {
      method: 'POST', path: '/initial-access-tokens', operationId: 'createInitialAccessToken', tag: 'clients', status: 201,
      summary: 'An initial access token for dynamic registration (POST {issuer}/reg), shown once',
      body: z.object({
        expires_in_days: z.number().int().min(1).max(365).default(7), reusable: flag, ci: flag, public_subject: flag,
        certificate_claim: flag, fapi: flag, pkce_optional: flag,
      }),
      response: z.object({ token: z.string(), expires_at: timestamp, policies: z.array(z.string()), registration_endpoint: z.string() }),
      handle: async ({ body }, actor) => {
        const b = body as Record<string, unknown> & { expires_in_days: number }
        const created = await createInitialAccessToken(deps.provider(), {
          days: b.expires_in_days, reusable: b.reusable === true, ci: b.ci === true, publicSubject: b.public_subject === true,
          certificateClaim: b.certificate_claim === true, fapi: b.fapi === true, pkceOptional: b.pkce_optional === true,
        })
        await record('operator.initial_access_token_created', actor, { policies: created.policies, expires_at: created.expiresAt.toISOString() })
        return { token: created.token, expires_at: created.expiresAt.toISOString(), policies: created.policies, registration_endpoint: `${deps.issuer}/reg` }
      },
    },
    {
      method: 'GET', path: '/keys', operationId: 'listKeys', tag: 'keys', summary: 'The OIDC signing keys and their state',
      response: z.object({ keys: z.array(z.object({ kid: z.string(), kty: z.string(), state: z.enum(['active', 'next', 'retired']), created_at: timestamp, activated_at: nullableTimestamp, retired_at: nullableTimestamp, publish_until: nullableTimestamp })) }),
      handle: async () => ({
        keys: (await deps.signingKeys.list()).map((k) => ({
          kid: k.kid, kty: k.kty, state: k.state, created_at: k.createdAt.toISOString(), activated_at: iso(k.activatedAt), retired_at: iso(k.retiredAt), publish_until: iso(k.publishUntil),
        })),
      }),
    },
    {
      method: 'POST', path: '/keys/rotate', operationId: 'rotateKeys', tag: 'keys',
      summary: 'The pre-published key starts signing, the active one retires, a new next key is published',
      response: z.object({ activated: z.array(z.string()), retired: z.array(z.string()), prepublished: z.array(z.string()), switch_within_seconds: z.number().int() }),
      handle: async (_input, actor) => {
        const result = await deps.signingKeys.rotate()
        await record('operator.keys_rotated', actor, { ...result })
        return { ...result, switch_within_seconds: deps.keyRefreshSeconds }
      },
    },
    {
      method: 'GET', path: '/operators', operationId: 'listOperators', tag: 'operators', summary: 'The people who sign in to the operator console with a passkey',
      response: z.object({ operators: z.array(SCHEMAS.operator) }),
      handle: async () => ({ operators: await deps.operators.list() }),
    },
    {
      method: 'POST', path: '/operators', operationId: 'inviteOperator', tag: 'operators', status: 201,
      summary: 'Invites an operator: a link (valid a day, single use) where they register their passkey; again for one who has none yet. Only at the server\'s console (403 console_only)',
      body: z.object({ name: z.string().regex(OPERATOR_NAME, { error: 'a name is 2 to 32 lower-case letters, digits, . _ -, starting with a letter' }) }),
      response: z.object({ name: z.string(), invitation_url: z.string().describe('shown once: give it to the operator only'), expires_at: timestamp }),
      handle: async ({ body }, actor) => {
        if (!isConsole(actor)) throw consoleOnly('operators are invited')
        const invited = await deps.operators.invite((body as { name: string }).name, actor!)
        return { name: invited.name, invitation_url: invited.url, expires_at: invited.expiresAt.toISOString() }
      },
    },
    {
      method: 'POST', path: '/operators/{name}/disable', operationId: 'disableOperator', tag: 'operators',
      summary: 'Disables an operator: their passkey no longer signs in and their console sessions end now. Only at the server\'s console (403 console_only)',
      params: z.object({ name: z.string().regex(OPERATOR_NAME) }), response: SCHEMAS.operator,
      handle: async ({ params }, actor) => {
        if (!isConsole(actor)) throw consoleOnly('operators are disabled')
        return await deps.operators.disable(params.name!, actor!)
      },
    },
    {
      method: 'GET', path: '/ca', operationId: 'showCa', tag: 'ca', summary: 'The active root and issuing CA',
      response: z.object({ certificates: z.array(z.object({ id: z.string(), role: z.enum(['root', 'issuing']), subject: z.string(), not_before: timestamp, not_after: timestamp, key: z.string().describe('sealed (in the database), offline, or pkcs11:<label> (on the token)'), sha256: z.string() })) }),
      handle: async () => ({
        certificates: (await deps.ca.summary()).map((c) => ({
          id: c.id, role: c.role, subject: c.subject, not_before: c.notBefore.toISOString(), not_after: c.notAfter.toISOString(),
          key: c.tokenKeyLabel ? `pkcs11:${c.tokenKeyLabel}` : c.hasPrivateKey ? 'sealed' : 'offline', sha256: c.sha256Fingerprint,
        })),
      }),
    },
    {
      method: 'GET', path: '/certificates', operationId: 'searchCertificates', tag: 'certificates',
      summary: 'Certificates by subscriber and status, in serial order; `next` is the `after` of the next page',
      query: z.object({
        subscriber: z.string().min(1).max(64).optional(), status: z.enum(['good', 'suspended', 'revoked']).optional(),
        after: serial.optional(), limit: limit(500, 100),
      }),
      response: z.object({ certificates: z.array(SCHEMAS.certificate), next: z.string().optional() }),
      handle: async ({ query }, actor) => {
        const q = query as { subscriber?: string; status?: 'good' | 'suspended' | 'revoked'; after?: string; limit: number }
        if (q.subscriber !== undefined) await viewed(q.subscriber, actor, 'certificate search')
        const found = await deps.authority.search({
          subscriberId: q.subscriber, status: q.status === 'suspended' ? 'hold' : q.status, after: q.after, limit: q.limit + 1,
        })
        const page = found.slice(0, q.limit)
        const now = deps.clock.now()
        return { certificates: page.map((c) => certificateView(c, now)), ...(found.length > q.limit ? { next: page.at(-1)!.serial } : {}) }
      },
    },
    {
      method: 'GET', path: '/certificates/{serial}', operationId: 'showCertificate', tag: 'certificates', summary: 'One certificate: subscriber, holder, validity, status',
      params: z.object({ serial }), response: SCHEMAS.certificate,
      handle: async ({ params }) => certificateView(await certificate(params.serial!), deps.clock.now()),
    },
    {
      method: 'POST', path: '/certificates/{serial}/revoke', operationId: 'revokeCertificate', tag: 'certificates', limited: true,
      summary: 'Revokes it: its logins, tokens, pending codes and portal sessions end on every instance, institutions get back-channel logouts',
      params: z.object({ serial }), body: z.object({ reason: z.enum(OPERATOR_REVOCATION_REASONS) }),
      response: SCHEMAS.certificate,
      handle: async ({ params, body }, actor) => {
        await statusChange(actor)
        return certificateView(await deps.authority.revoke(params.serial!, (body as { reason: (typeof OPERATOR_REVOCATION_REASONS)[number] }).reason, actor?.id), deps.clock.now())
      },
    },
    {
      method: 'POST', path: '/certificates/{serial}/suspend', operationId: 'suspendCertificate', tag: 'certificates', limited: true,
      summary: 'Suspends it (certificateHold), with the same effect as a revocation until it is resumed',
      params: z.object({ serial }), response: SCHEMAS.certificate,
      handle: async ({ params }, actor) => {
        await statusChange(actor)
        return certificateView(await deps.authority.suspend(params.serial!, actor?.id), deps.clock.now())
      },
    },
    {
      method: 'POST', path: '/certificates/{serial}/resume', operationId: 'resumeCertificate', tag: 'certificates',
      summary: 'Lifts a suspension; what it had ended stays ended',
      params: z.object({ serial }), response: SCHEMAS.certificate,
      handle: async ({ params }, actor) => certificateView(await deps.authority.resume(params.serial!, actor?.id), deps.clock.now()),
    },
    {
      method: 'POST', path: '/approvals', operationId: 'requestApproval', tag: 'approvals', status: 201,
      summary: `Asks for an operation under dual control; it runs when another operator approves it within a day (${Object.entries(DUAL_CONTROL).map(([k, v]) => `${k}: ${v.summary}`).join('; ')})`,
      body: z.object({
        action: z.enum(Object.keys(DUAL_CONTROL) as [keyof typeof DUAL_CONTROL]),
        params: z.record(z.string(), z.unknown()).describe('revokeCertificates: {serials: [hex, …] (up to 1000) or subscriber: id, reason}; importCa: {chain_pem, key_pem or pkcs11_key}'),
      }),
      response: SCHEMAS.approval,
      handle: async ({ body }, actor) => {
        const b = body as { action: string; params: unknown }
        return await deps.approvals.request(b.action, b.params, actor!)
      },
    },
    {
      method: 'GET', path: '/approvals', operationId: 'listApprovals', tag: 'approvals', summary: 'Dual-control requests, newest first',
      query: z.object({ status: z.enum(['pending', 'executing', 'executed', 'failed', 'rejected', 'expired']).optional() }),
      response: z.object({ approvals: z.array(SCHEMAS.approval) }),
      handle: async ({ query }) => ({ approvals: await deps.approvals.list(query.status as 'pending' | undefined) }),
    },
    {
      method: 'GET', path: '/approvals/{approvalId}', operationId: 'showApproval', tag: 'approvals', summary: 'One dual-control request, with its result once run',
      params: z.object({ approvalId: z.string().min(1).max(64) }), response: SCHEMAS.approval,
      handle: async ({ params }) => await deps.approvals.find(params.approvalId!),
    },
    {
      method: 'POST', path: '/approvals/{approvalId}/approve', operationId: 'approveApproval', tag: 'approvals',
      summary: 'A second operator approves: the operation runs now (403 second_operator_required for the one who asked, 409 once it is not pending)',
      params: z.object({ approvalId: z.string().min(1).max(64) }), response: SCHEMAS.approval,
      handle: async ({ params }, actor) => await deps.approvals.approve(params.approvalId!, actor!),
    },
    {
      method: 'POST', path: '/approvals/{approvalId}/reject', operationId: 'rejectApproval', tag: 'approvals',
      summary: 'Rejects a pending request (the one who asked may withdraw it)',
      params: z.object({ approvalId: z.string().min(1).max(64) }), response: SCHEMAS.approval,
      handle: async ({ params }, actor) => await deps.approvals.reject(params.approvalId!, actor!),
    },
    {
      method: 'GET', path: '/subscribers', operationId: 'findSubscribers', tag: 'subscribers', summary: 'Subscribers with this mobile number',
      query: z.object({ phone: z.string().min(1).max(32).describe('a Korean mobile number: 010-1234-5678 or +821012345678') }),
      response: z.object({ subscribers: z.array(subscriberSchema) }),
      handle: async ({ query }, actor) => {
        const e164 = normalizeKoreanMobile(String(query.phone))
        if (!e164) throw invalidRequest('phone must be a Korean mobile number')
        const found = await deps.subscribers.findByPhone(e164)
        for (const s of found) await viewed(s.id, actor, 'search by phone')
        return { subscribers: found.map(subscriberView) }
      },
    },
    {
      method: 'GET', path: '/subscribers/{subscriberId}', operationId: 'showSubscriber', tag: 'subscribers',
      summary: 'A subscriber, their certificates, the institutions they registered with, and their latest activity',
      params: z.object({ subscriberId: z.string().min(1).max(64) }),
      response: subscriberSchema.extend({
        certificates: z.array(SCHEMAS.certificate),
        registrations: z.array(z.object({ client_id: z.string(), name: z.string(), registered_at: timestamp, scopes: z.array(z.string()) })),
        activity: z.array(SCHEMAS.auditEvent),
      }),
      handle: async ({ params }, actor) => {
        const id = params.subscriberId!
        const subscriber = await deps.subscribers.find(id)
        if (!subscriber) throw notFound(`no subscriber ${id}`)
        await viewed(id, actor, 'subscriber record')
        const now = deps.clock.now()
        const [certificates, registrations, activity] = await Promise.all([
          deps.authority.listBySubscriber(id), deps.registrations.list(id),
          deps.db.selectFrom('audit_event').selectAll().where('subscriber_id', '=', id).orderBy('id', 'desc').limit(50).execute(), // audit_event_subscriber_idx
        ])
        return {
          ...subscriberView(subscriber),
          certificates: certificates.map((c) => certificateView(c, now)),
          registrations: registrations.map((r) => ({ client_id: r.clientId, name: r.name, registered_at: r.registeredAt.toISOString(), scopes: r.scopes })),
          activity: activity.map(auditView),
        }
      },
    },
    {
      method: 'GET', path: '/audit', operationId: 'queryAudit', tag: 'audit',
      summary: 'Audit events, newest first; `next` is the `before` of the next page',
      query: auditFilter.extend({ before: z.coerce.number().int().min(1).optional(), limit: limit(1000, 100) }),
      response: z.object({ events: z.array(SCHEMAS.auditEvent), next: z.number().int().optional() }),
      handle: async ({ query }, actor) => {
        const q = query as AuditFilter & { before?: number; limit: number }
        if (q.subscriber !== undefined) await viewed(q.subscriber, actor, 'audit query')
        let select = filtered(deps.db, q)
        if (q.before !== undefined) select = select.where('id', '<', q.before)
        const rows = await select.orderBy('id', 'desc').limit(q.limit + 1).execute()
        const events = rows.slice(0, q.limit).map(auditView)
        return { events, ...(rows.length > q.limit ? { next: events.at(-1)!.id } : {}) }
      },
    },
    {
      method: 'GET', path: '/audit/export', operationId: 'exportAudit', tag: 'audit', jsonLines: true,
      summary: 'Audit events as JSON lines, oldest first, then one line signed with the receipt key: the count and SHA-256 (base64url) of the lines before it',
      query: auditFilter,
      response: z.union([SCHEMAS.auditEvent, z.object({
        export: z.object({ count: z.number().int(), sha256: z.string(), filter: z.record(z.string(), z.unknown()) }),
        jws: z.string().describe('a JWT (typ postcert-audit-export+jwt) of {export}, signed with the receipt key'),
        key: z.record(z.string(), z.unknown()).describe('the public key (JWK) that signed it, also in the issuer\'s JWKS while it is published'),
      })]).describe('each line: an event; the last line: the signed digest'),
      handle: async ({ query }, actor) => {
        const q = query as AuditFilter
        if (q.subscriber !== undefined) await viewed(q.subscriber, actor, 'audit export')
        const rows = await filtered(deps.db, q).orderBy('id').limit(EXPORT_MAX).execute()
        if (rows.length === EXPORT_MAX) throw invalidRequest(`more than ${EXPORT_MAX - 1} events: narrow the export with from and to`)
        const lines = rows.map((r) => `${JSON.stringify(auditView(r))}\n`)
        const sha256 = createHash('sha256').update(lines.join('')).digest('base64url')
        const filter = Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined))
        const summary = { count: rows.length, sha256, filter }
        const { jws, key } = await signStatement(deps.receipts, 'postcert-audit-export+jwt', { export: summary }, deps.issuer, deps.clock.now())
        await record('operator.audit_exported', actor, summary)
        return `${lines.join('')}${JSON.stringify({ export: summary, jws, key })}\n`
      },
    },
  ]
}

/** At most this many events per export (minus one). */
const EXPORT_MAX = 100_001

const auditFilter = z.object({
  type: z.string().max(64).optional(),
  subscriber: z.string().max(64).optional(),
  serial: serial.optional(),
  from: timestamp.optional().describe('events at or after'),
  to: timestamp.optional().describe('events before'),
})
type AuditFilter = z.infer<typeof auditFilter>

function filtered(db: Database, f: AuditFilter) {
  let select = db.selectFrom('audit_event').selectAll()
  if (f.type !== undefined) select = select.where('type', '=', f.type)
  if (f.subscriber !== undefined) select = select.where('subscriber_id', '=', f.subscriber)
  if (f.serial !== undefined) select = select.where('certificate_serial', '=', canonicalSerial(f.serial))
  if (f.from !== undefined) select = select.where('occurred_at', '>=', new Date(f.from))
  if (f.to !== undefined) select = select.where('occurred_at', '<', new Date(f.to))
  return select
}

function auditView(r: { id: number; occurred_at: Date; type: string; subscriber_id: string | null; certificate_serial: string | null; data: string }): z.infer<typeof SCHEMAS.auditEvent> {
  return { id: r.id, occurred_at: r.occurred_at.toISOString(), type: r.type, subscriber_id: r.subscriber_id, certificate_serial: r.certificate_serial, data: JSON.parse(r.data) as Record<string, unknown> }
}
