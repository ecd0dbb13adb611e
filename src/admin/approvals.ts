import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import type { AuditLog } from '../audit/audit-log.ts'
import type { CertificateAuthority } from '../ca/authority.ts'
import type { TokenSettings } from '../ca/hierarchy.ts'
import { checkImport, importHierarchy, type ImportInput } from '../ca/import.ts'
import { OPERATOR_REVOCATION_REASONS } from '../ca/constants.ts'
import type { Database } from '../db/database.ts'
import { rewrapTable, type RewrapCount, type SealedBox } from '../keys/sealed-box.ts'
import type { OperatorApprovalTable } from '../db/schema/operator-approval.ts'
import { invalidRequest, notFound, PostCertError } from '../errors/errors.ts'
import type { Clock } from '../util/clock.ts'
import type { Actor } from './auth.ts'
import { approvalClosed, secondOperatorRequired } from './errors.ts'

/** How long a request waits for its second operator. */
export const APPROVAL_TTL_MS = 24 * 3_600_000
/** A run still `executing` after this long was cut off (a bulk of BULK_MAX takes seconds). */
export const STALE_RUN_MS = 10 * 60_000
/** At most this many certificates in one bulk revocation. */
export const BULK_MAX = 1_000

const serial = z.string().regex(/^[0-9a-fA-F]{1,40}$/, { error: 'a certificate serial is hex' })

/** The operations under dual control, each with what it takes and what it does once approved. */
export const DUAL_CONTROL = {
  revokeCertificates: {
    summary: 'revokes certificates in bulk: the serials listed, or every certificate of a subscriber that is not revoked yet',
    params: z.object({
      serials: z.array(serial).min(1).max(BULK_MAX).optional(),
      subscriber: z.string().min(1).max(64).optional(),
      reason: z.enum(OPERATOR_REVOCATION_REASONS),
    }).strict().refine((p) => (p.serials === undefined) !== (p.subscriber === undefined), { error: 'give serials or subscriber, not both' }),
  },
  importCa: {
    summary: 'replaces the generated CA with the operator\'s own issuing CA (only before any certificate is issued): its chain, and its key as a PEM (sealed into the request at once) or the label of its key on the PKCS#11 token',
    params: z.object({
      chain_pem: z.string().min(1).max(32_768),
      key_pem: z.string().min(1).max(16_384).optional(),
      pkcs11_key: z.string().min(1).max(128).optional(),
    }).strict().refine((p) => (p.key_pem === undefined) !== (p.pkcs11_key === undefined), { error: 'give key_pem or pkcs11_key, not both' }),
  },
} as const
export type DualControlAction = keyof typeof DUAL_CONTROL

interface RevocationResult {
  revoked: string[]
  skipped: { serial: string; why: string }[]
}

/** An import's parameters as kept: the key PEM only sealed (opened by the run), never shown. */
interface StoredImport {
  chain_pem: string
  pkcs11_key?: string
  sealed_key?: string
  issuing_subject: string
  issuing_sha256: string
}

export interface ApprovalView {
  id: string
  action: string
  params: Record<string, unknown>
  status: 'pending' | 'executing' | 'executed' | 'failed' | 'rejected' | 'expired'
  requested_by: string
  requested_at: string
  expires_at: string
  decided_by: string | null
  decided_at: string | null
  result: Record<string, unknown> | null
}

/**
 * Dual control: an operation of DUAL_CONTROL is asked for by one operator and runs only when a
 * second, different operator approves it (or is dropped when one rejects it, or after a day).
 * Approving claims the request atomically, so two approvals never run it twice.
 */
export class Approvals {
  readonly #db: Database
  readonly #clock: Clock
  readonly #audit: AuditLog
  readonly #authority: CertificateAuthority
  readonly #box: SealedBox
  readonly #token: TokenSettings | undefined

  constructor(deps: { db: Database; clock: Clock; audit: AuditLog; authority: CertificateAuthority; box: SealedBox; token: TokenSettings | undefined }) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#audit = deps.audit
    this.#authority = deps.authority
    this.#box = deps.box
    this.#token = deps.token
  }

  async request(action: string, given: unknown, actor: Actor): Promise<ApprovalView> {
    if (!(action in DUAL_CONTROL)) throw invalidRequest(`action must be one of ${Object.keys(DUAL_CONTROL).join(', ')}`)
    const parsed = DUAL_CONTROL[action as DualControlAction].params.safeParse(given)
    if (!parsed.success) throw invalidRequest(`params: ${parsed.error.issues[0]!.path.join('.') || 'params'}: ${parsed.error.issues[0]!.message}`)
    const id = `apr_${randomBytes(12).toString('base64url')}`
    const params = action === 'importCa'
      ? await this.#importParams(id, parsed.data as z.infer<typeof DUAL_CONTROL.importCa.params>)
      : await this.#revocationParams(parsed.data as z.infer<typeof DUAL_CONTROL.revokeCertificates.params>)
    const now = this.#clock.now()
    const row: OperatorApprovalTable = {
      id, action, params: JSON.stringify(params), status: 'pending',
      requested_by: actor.id, requested_at: now, expires_at: new Date(now.getTime() + APPROVAL_TTL_MS),
      decided_by: null, decided_at: null, result: null,
    }
    const view = this.#view(row)
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('operator_approval').values(row).execute()
      await this.#audit.record(trx, { type: 'operator.approval_requested', data: { actor: actor.id, approval: row.id, action, params: view.params } })
    })
    return view
  }

  /** What the second operator approves is what runs: a subscriber's certificates are listed now. */
  async #revocationParams(given: z.infer<typeof DUAL_CONTROL.revokeCertificates.params>) {
    const params = given.subscriber === undefined ? given
      : { ...given, serials: (await this.#authority.listBySubscriber(given.subscriber)).filter((c) => c.status !== 'revoked').map((c) => c.serial) }
    if (params.serials?.length === 0) throw invalidRequest('the subscriber has no certificate left to revoke')
    return params
  }

  /**
   * An import is checked now (the chain, the key's match, the token's key signing), so the second
   * operator approves something that works; the PEM key is sealed to this request at once.
   */
  async #importParams(id: string, given: z.infer<typeof DUAL_CONTROL.importCa.params>): Promise<StoredImport> {
    const checked = await checkImport(this.#db, this.#box, this.#importInput(given.chain_pem, given.key_pem, given.pkcs11_key))
    return {
      chain_pem: given.chain_pem, issuing_subject: checked.issuingSubject, issuing_sha256: checked.issuingSha256,
      ...(given.key_pem !== undefined ? { sealed_key: this.#box.seal(Buffer.from(given.key_pem), `operator_approval:${id}:key`) } : { pkcs11_key: given.pkcs11_key! }),
    }
  }

  async list(status?: ApprovalView['status']): Promise<ApprovalView[]> {
    const now = this.#clock.now()
    let query = this.#db.selectFrom('operator_approval').selectAll()
    if (status === 'expired') query = query.where('status', '=', 'pending').where('expires_at', '<=', now)
    else if (status === 'pending') query = query.where('status', '=', 'pending').where('expires_at', '>', now)
    else if (status !== undefined) query = query.where('status', '=', status)
    const rows = await query.orderBy('requested_at', 'desc').limit(200).execute()
    return rows.map((r) => this.#view(r))
  }

  async find(id: string): Promise<ApprovalView> {
    const row = await this.#db.selectFrom('operator_approval').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw notFound(`no approval request ${id}`)
    return this.#view(row)
  }

  /** A second operator approves: the request is claimed (pending, not expired, not theirs), then run. */
  async approve(id: string, actor: Actor): Promise<ApprovalView> {
    const claimed = await this.#decide(id, actor, 'executing')
    const result: Record<string, unknown> = {}
    let failure: Error | undefined
    try {
      if (claimed.action === 'importCa') Object.assign(result, await this.#importCa(id, JSON.parse(claimed.params) as StoredImport))
      else {
        // The result holds the same lists the run fills, so a failure part way keeps what it did.
        const revocation: RevocationResult = { revoked: [], skipped: [] }
        Object.assign(result, revocation)
        await this.#revokeCertificates(JSON.parse(claimed.params) as z.infer<typeof DUAL_CONTROL.revokeCertificates.params>, `approval:${id}`, revocation)
      }
    } catch (err) {
      // What was done stays recorded; the rest is for a new request.
      failure = err instanceof Error ? err : new Error('the operation failed', { cause: err })
      if (failure instanceof PostCertError && failure.expose) result.error = failure.description
    }
    const status = failure === undefined ? 'executed' : 'failed'
    // A key the request carried (importCa) is not kept once the request is decided.
    const done = await this.#db.updateTable('operator_approval').set({ status, result: JSON.stringify(result), params: withoutKey(claimed.params) })
      .where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    await this.#audit.record(this.#db, { type: 'operator.approval_approved', data: { actor: actor.id, approval: id, action: claimed.action, requested_by: claimed.requested_by, status, result } })
    if (failure) throw failure
    return this.#view(done)
  }

  async reject(id: string, actor: Actor): Promise<ApprovalView> {
    const rejected = await this.#decide(id, actor, 'rejected', true)
    await this.#audit.record(this.#db, { type: 'operator.approval_rejected', data: { actor: actor.id, approval: id, action: rejected.action, requested_by: rejected.requested_by } })
    return this.#view(rejected)
  }

  /**
   * Re-seals with the current master key the keys that undecided requests carry (importCa), as
   * the other tables' owners do theirs (`postcert secrets rewrap`).
   */
  async rewrap(): Promise<RewrapCount> {
    const rows = async () => (await this.#db.selectFrom('operator_approval').select(['id', 'params'])
      .where('action', '=', 'importCa').where('status', 'in', ['pending', 'executing']).execute()) // operator_approval_status_idx
      .map((r) => ({ ...r, sealed: (JSON.parse(r.params) as StoredImport).sealed_key }))
      .filter((r): r is { id: string; params: string; sealed: string } => r.sealed !== undefined)
    return await rewrapTable(this.#box, 'operator_approval', rows, (r) => r.sealed, (r) => `operator_approval:${r.id}:key`,
      async (r, resealed) => (await this.#db.updateTable('operator_approval').set({ params: JSON.stringify({ ...JSON.parse(r.params) as StoredImport, sealed_key: resealed }) })
        .where('id', '=', r.id).where('params', '=', r.params).executeTakeFirst()).numUpdatedRows) // primary key
  }

  /** Moves a pending, unexpired request to `status` for `actor`; the one who asked may only withdraw it. */
  async #decide(id: string, actor: Actor, status: 'executing' | 'rejected', ownMayWithdraw = false): Promise<OperatorApprovalTable> {
    const now = this.#clock.now()
    const current = await this.#db.selectFrom('operator_approval').selectAll().where('id', '=', id).executeTakeFirst()
    if (!current) throw notFound(`no approval request ${id}`)
    if (current.requested_by === actor.id && !ownMayWithdraw) throw secondOperatorRequired()
    // An approval whose run was cut off (the process died) may be approved again once it is clearly
    // not running: what it had done is skipped as already done.
    const stale = new Date(now.getTime() - STALE_RUN_MS)
    // A rejection decides the request: the key it carried (importCa) goes in the same write.
    const claimed = await this.#db.updateTable('operator_approval').set({ status, decided_by: actor.id, decided_at: now, ...(status === 'rejected' ? { params: withoutKey(current.params) } : {}) })
      .where('id', '=', id)
      .where((eb) => eb.or([
        eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', now)]),
        ...(status === 'executing' ? [eb.and([eb('status', '=', 'executing'), eb('decided_at', '<', stale)])] : []),
      ]))
      .returningAll().executeTakeFirst()
    if (!claimed) throw approvalClosed(this.#view(current).status)
    return claimed
  }

  /** The import asked for, checked again (certificates may have been issued since). */
  async #importCa(id: string, params: StoredImport): Promise<{ issuing_id: string; root_id: string; restart: string }> {
    const keyPem = params.sealed_key === undefined ? undefined : this.#box.open(params.sealed_key, `operator_approval:${id}:key`).toString('utf8')
    const imported = await importHierarchy(this.#db, this.#box, this.#importInput(params.chain_pem, keyPem, params.pkcs11_key))
    return { issuing_id: imported.issuingId, root_id: imported.rootId, restart: 'restart running instances to use the new CA' }
  }

  /** The import's input: the chain with the PEM key, or with the label of its key on this server's token. */
  #importInput(chainPem: string, keyPem: string | undefined, tokenKeyLabel: string | undefined): ImportInput {
    return keyPem !== undefined ? { chainPem, keyPem } : { chainPem, tokenKeyLabel: tokenKeyLabel!, token: this.#token }
  }

  /** Each certificate through the CA, as one revocation would be; one that cannot be revoked is reported, not fatal. */
  async #revokeCertificates(params: z.infer<typeof DUAL_CONTROL.revokeCertificates.params>, actor: string, result: RevocationResult): Promise<void> {
    for (const s of params.serials ?? []) {
      try {
        result.revoked.push((await this.#authority.revoke(s, params.reason, actor)).serial)
      } catch (err) {
        if (!(err instanceof PostCertError) || !err.expose) throw err
        result.skipped.push({ serial: s.toLowerCase(), why: err.description })
      }
    }
  }

  #view(r: OperatorApprovalTable): ApprovalView {
    const expired = r.status === 'pending' && r.expires_at <= this.#clock.now()
    return {
      id: r.id, action: r.action, params: shown(JSON.parse(r.params) as Record<string, unknown>), status: expired ? 'expired' : r.status,
      requested_by: r.requested_by, requested_at: r.requested_at.toISOString(), expires_at: r.expires_at.toISOString(),
      decided_by: r.decided_by, decided_at: r.decided_at?.toISOString() ?? null, result: r.result ? JSON.parse(r.result) as Record<string, unknown> : null,
    }
  }
}

/** A request's parameters as shown: a sealed key is named, never given (even sealed). */
function shown(params: Record<string, unknown>): Record<string, unknown> {
  const { sealed_key: sealed, ...rest } = params
  return sealed === undefined ? rest : { ...rest, key: 'a PEM key, sealed in the request' }
}

/** A decided request's parameters: without the key it carried, if any. */
function withoutKey(params: string): string {
  const { sealed_key: sealed, ...rest } = JSON.parse(params) as Record<string, unknown>
  return sealed === undefined ? params : JSON.stringify({ ...rest, key: 'a PEM key, removed when the request was decided' })
}
