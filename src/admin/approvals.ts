import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import type { AuditLog } from '../audit/audit-log.ts'
import type { CertificateAuthority } from '../ca/authority.ts'
import { OPERATOR_REVOCATION_REASONS } from '../ca/constants.ts'
import type { Database } from '../db/database.ts'
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
} as const
export type DualControlAction = keyof typeof DUAL_CONTROL

interface RevocationResult {
  revoked: string[]
  skipped: { serial: string; why: string }[]
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

  constructor(deps: { db: Database; clock: Clock; audit: AuditLog; authority: CertificateAuthority }) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#audit = deps.audit
    this.#authority = deps.authority
  }

  async request(action: string, given: unknown, actor: Actor): Promise<ApprovalView> {
    if (!(action in DUAL_CONTROL)) throw invalidRequest(`action must be one of ${Object.keys(DUAL_CONTROL).join(', ')}`)
    const parsed = DUAL_CONTROL[action as DualControlAction].params.safeParse(given)
    if (!parsed.success) throw invalidRequest(`params: ${parsed.error.issues[0]!.path.join('.') || 'params'}: ${parsed.error.issues[0]!.message}`)
    // What the second operator approves is what runs: a subscriber's certificates are listed now.
    const params = parsed.data.subscriber === undefined ? parsed.data
      : { ...parsed.data, serials: (await this.#authority.listBySubscriber(parsed.data.subscriber)).filter((c) => c.status !== 'revoked').map((c) => c.serial) }
    if (params.serials?.length === 0) throw invalidRequest('the subscriber has no certificate left to revoke')
    const now = this.#clock.now()
    const row: OperatorApprovalTable = {
      id: `apr_${randomBytes(12).toString('base64url')}`, action, params: JSON.stringify(params), status: 'pending',
      requested_by: actor.id, requested_at: now, expires_at: new Date(now.getTime() + APPROVAL_TTL_MS),
      decided_by: null, decided_at: null, result: null,
    }
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('operator_approval').values(row).execute()
      await this.#audit.record(trx, { type: 'operator.approval_requested', data: { actor: actor.id, approval: row.id, action, params } })
    })
    return this.#view(row)
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
    const params = JSON.parse(claimed.params) as z.infer<typeof DUAL_CONTROL.revokeCertificates.params>
    const result: RevocationResult = { revoked: [], skipped: [] }
    let failure: Error | undefined
    try {
      await this.#revokeCertificates(params, `approval:${id}`, result)
    } catch (err) {
      // What was done stays recorded; the rest is for a new request.
      failure = err instanceof Error ? err : new Error('the operation failed', { cause: err })
    }
    const status = failure === undefined ? 'executed' : 'failed'
    const done = await this.#db.updateTable('operator_approval').set({ status, result: JSON.stringify(result) })
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

  /** Moves a pending, unexpired request to `status` for `actor`; the one who asked may only withdraw it. */
  async #decide(id: string, actor: Actor, status: 'executing' | 'rejected', ownMayWithdraw = false): Promise<OperatorApprovalTable> {
    const now = this.#clock.now()
    const current = await this.#db.selectFrom('operator_approval').selectAll().where('id', '=', id).executeTakeFirst()
    if (!current) throw notFound(`no approval request ${id}`)
    if (current.requested_by === actor.id && !ownMayWithdraw) throw secondOperatorRequired()
    // An approval whose run was cut off (the process died) may be approved again once it is clearly
    // not running: what it had done is skipped as already done.
    const stale = new Date(now.getTime() - STALE_RUN_MS)
    const claimed = await this.#db.updateTable('operator_approval').set({ status, decided_by: actor.id, decided_at: now })
      .where('id', '=', id)
      .where((eb) => eb.or([
        eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', now)]),
        ...(status === 'executing' ? [eb.and([eb('status', '=', 'executing'), eb('decided_at', '<', stale)])] : []),
      ]))
      .returningAll().executeTakeFirst()
    if (!claimed) throw approvalClosed(this.#view(current).status)
    return claimed
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
      id: r.id, action: r.action, params: JSON.parse(r.params) as Record<string, unknown>, status: expired ? 'expired' : r.status,
      requested_by: r.requested_by, requested_at: r.requested_at.toISOString(), expires_at: r.expires_at.toISOString(),
      decided_by: r.decided_by, decided_at: r.decided_at?.toISOString() ?? null, result: r.result ? JSON.parse(r.result) as Record<string, unknown> : null,
    }
  }
}
