import { createHash, randomBytes } from 'node:crypto'
import type { Selectable } from 'kysely'
import type { AuditEventType, AuditLog } from '../audit/audit-log.ts'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { CertificateStatus, CertificateTable, HolderKind } from '../db/schema/certificate.ts'
import type { Clock } from '../util/clock.ts'
import { CHALLENGE_TTL_SECONDS, DAY_MS, MAX_CERTIFICATES_IN_USE, REVOCATION_REASONS, type RevocationReason } from './constants.ts'
import { certificateLimit, certificateNotFound, certificateState, invalidPossessionProof, renewalNotAllowed } from './errors.ts'
import type { CaHierarchy } from './hierarchy.ts'
import { subscriberKey, verifyPossession, type PossessionProof } from './possession.ts'
import { buildSubscriberCertificate, crlPartitionOf, pkiUrls } from './profile.ts'
import { statusChanged } from './status-version.ts'
import { canonicalSerial, randomSerial, sha256 } from './x509.ts'

export interface CaSettings {
  issuer: string
  validityDays: number
  renewalWindowDays: number
  /** Certificates are spread over this many CRL partitions (CRL_PARTITIONS); 0: all on the complete CRL. */
  crlPartitions?: number
}

export interface CertificateRecord {
  serial: string
  subscriberId: string
  holder: HolderKind
  issuerId: string
  der: Buffer
  subject: string
  spkiSha256: string
  notBefore: Date
  notAfter: Date
  status: CertificateStatus
  revokedAt: Date | null
  revocationReason: string | null
  replacedBy: string | null
}

/** Extra work that must commit (or roll back) with the issuance, e.g. completing an enrollment. */
export type InIssuanceTransaction = (trx: DatabaseTransaction, certificate: CertificateRecord) => Promise<void>

export interface IssueRequest {
  subscriberId: string
  displayName: string
  holder: HolderKind
  /** A passkey whose attestation PostCert verified: the hardware-bound policy (ca/constants.ts). */
  attested?: boolean
  /** The subscriber's public key, SubjectPublicKeyInfo DER. */
  spki: Buffer
  proof: PossessionProof
  alsoInTransaction?: InIssuanceTransaction
}

export interface RenewRequest {
  serial: string
  spki: Buffer
  proof: PossessionProof
  holder?: HolderKind
  attested?: boolean
  /** Display name for the new certificate; defaults to the old certificate's. */
  displayName?: string
  /** Extra work that must commit with the renewal (a new passkey's credential). */
  alsoInTransaction?: InIssuanceTransaction
}

/**
 * Told when certificates stop being usable (revoked, suspended, superseded; found expired), so
 * that what their logins opened ends with them (sessions/certificate-logins.ts).
 */
export interface CertificateStatusListener {
  /**
   * Inside the transaction that makes them unusable, after every other write of it. Returns what
   * `committed` is to do once it commits (the back-channel logouts it owes).
   */
  ended(trx: DatabaseTransaction, serials: string[]): Promise<string[]>
  /** Inside the transaction that lifts a suspension: whatever was written for them meanwhile goes too. */
  resumed(trx: DatabaseTransaction, serials: string[]): Promise<void>
  /** After that transaction committed (work that must not hold it open: notifying institutions). */
  committed(owed: string[]): Promise<void>
}

/**
 * The certificate lifecycle: issue, renew, reissue, revoke, suspend, resume. Every change and
 * its audit event commit in one transaction; a certificate that is not in the database was
 * never issued, whatever it looks like. Every change that makes a certificate unusable tells the
 * status listener in that transaction: this is the one place status changes end logins.
 *
 * Throws: InvalidPossessionProofError, UnsupportedKeyError (issuance input),
 * CertificateNotFoundError, RenewalNotAllowedError, CertificateStateError (lifecycle rules).
 */
export class CertificateAuthority {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock
  readonly #audit: AuditLog
  readonly #settings: CaSettings
  readonly #listener: CertificateStatusListener | undefined
  readonly #committed: () => void

  /**
   * `statusCommitted` runs as soon as a status change has committed, before the listener's
   * `committed`: it drops what this process derived from the old status (pre-signed OCSP).
   */
  constructor(deps: { db: Database; hierarchy: CaHierarchy; clock: Clock; audit: AuditLog; settings: CaSettings; listener?: CertificateStatusListener; statusCommitted?: () => void }) {
    this.#db = deps.db
    this.#hierarchy = deps.hierarchy
    this.#clock = deps.clock
    this.#audit = deps.audit
    this.#settings = deps.settings
    this.#listener = deps.listener
    this.#committed = deps.statusCommitted ?? (() => {})
  }

  get settings(): CaSettings {
    return this.#settings
  }

  /** A fresh single-use challenge for a proof of possession. */
  async createChallenge(): Promise<Buffer> {
    const challenge = randomBytes(32)
    const expires = new Date(this.#clock.now().getTime() + CHALLENGE_TTL_SECONDS * 1000)
    await this.#db.insertInto('ca_challenge').values({ hash: challengeHash(challenge), expires_at: expires }).execute()
    return challenge
  }

  /** Deletes challenges nobody answered in time; returns how many. */
  async sweepChallenges(): Promise<number> {
    const result = await this.#db.deleteFrom('ca_challenge').where('expires_at', '<=', this.#clock.now()).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  async issue(request: IssueRequest): Promise<CertificateRecord> {
    return (await this.#issue(request, 'certificate.issued')).certificate
  }

  /**
   * Issues one more certificate beside those in use (another device), up to
   * MAX_CERTIFICATES_IN_USE. The count is taken (by a statement of its own, so it sees what
   * committed before) under a lock on the subscriber's row: two requests at once cannot both pass.
   */
  async add(request: IssueRequest): Promise<CertificateRecord> {
    return (await this.#issue(request, 'certificate.issued', async (trx, _serial, now) => {
      await trx.selectFrom('subscriber').select('id').where('id', '=', request.subscriberId).forUpdate().executeTakeFirstOrThrow()
      const inUse = await trx.selectFrom('certificate').select('serial')
        .where('subscriber_id', '=', request.subscriberId).where('status', '!=', 'revoked').where('not_after', '>', now)
        .execute() // certificate_subscriber_idx
      if (inUse.length >= MAX_CERTIFICATES_IN_USE) throw certificateLimit(MAX_CERTIFICATES_IN_USE)
      return []
    })).certificate
  }

  /**
   * Issues after identity proofing (again), revoking every earlier certificate of the subscriber
   * in use (suspended ones too). Under a lock on the subscriber's row, so that enrollments
   * completed at once in several browsers leave one certificate in use, not one each; the event
   * says reissued when it replaced any.
   */
  async reissue(request: IssueRequest): Promise<{ certificate: CertificateRecord; revoked: string[] }> {
    return await this.#issue(request, (ended) => (ended.length ? 'certificate.reissued' : 'certificate.issued'), async (trx, serial, now) => {
      await trx.selectFrom('subscriber').select('id').where('id', '=', request.subscriberId).forUpdate().executeTakeFirstOrThrow() // primary key
      const earlier = await trx.updateTable('certificate')
        .set({ status: 'revoked', revoked_at: now, revocation_reason: 'superseded', replaced_by: serial, status_changed_at: now })
        .where('subscriber_id', '=', request.subscriberId).where('status', '!=', 'revoked').where('not_after', '>', now).where('serial', '!=', serial)
        .returning('serial').execute() // certificate_subscriber_idx
      for (const row of earlier) {
        await this.#audit.record(trx, { type: 'certificate.revoked', subscriberId: request.subscriberId, certificateSerial: row.serial, data: { reason: 'superseded', replacedBy: serial } })
      }
      if (earlier.length) await statusChanged(trx, earlier.map((r) => r.serial))
      return earlier.map((r) => r.serial)
    }).then(({ certificate, ended }) => ({ certificate, revoked: ended }))
  }

  /**
   * Renews within the window (from `renewalWindowDays` before expiry until expiry): a new
   * certificate for a new key, valid one more period past the old expiry; the old one is
   * revoked as superseded.
   */
  async renew(request: RenewRequest): Promise<CertificateRecord> {
    const serial = canonicalSerial(request.serial)
    const old = await this.find(serial)
    if (!old) throw certificateNotFound(serial)
    this.#assertRenewable(old)
    const { certificate } = await this.#issue({
      subscriberId: old.subscriberId,
      displayName: request.displayName ?? displayNameOf(old.subject),
      holder: request.holder ?? old.holder,
      attested: request.attested,
      spki: request.spki,
      proof: request.proof,
      notAfter: new Date(old.notAfter.getTime() + this.#settings.validityDays * DAY_MS),
      alsoInTransaction: request.alsoInTransaction,
    }, 'certificate.renewed', async (trx, newSerial, now) => {
      // Re-check under a row lock: two renewals of one certificate must not both succeed.
      const locked = await trx.selectFrom('certificate').selectAll().where('serial', '=', serial).forUpdate().executeTakeFirstOrThrow()
      this.#assertRenewable(toRecord(locked))
      await trx.updateTable('certificate')
        .set({ status: 'revoked', revoked_at: now, revocation_reason: 'superseded', replaced_by: newSerial, status_changed_at: now })
        .where('serial', '=', serial).execute()
      await this.#audit.record(trx, { type: 'certificate.revoked', subscriberId: old.subscriberId, certificateSerial: serial, data: { reason: 'superseded', replacedBy: newSerial } })
      await statusChanged(trx, [serial])
      return [serial]
    })
    return certificate
  }

  /** When renewal opens and closes for this certificate. */
  renewalWindow(record: Pick<CertificateRecord, 'notAfter'>): { opensAt: Date; closesAt: Date } {
    return { opensAt: new Date(record.notAfter.getTime() - this.#settings.renewalWindowDays * DAY_MS), closesAt: record.notAfter }
  }

  /** `actor` names who did it when not the subscriber (an operator: `client:<id>`, `cli`), in the audit event. */
  async revoke(serialInput: string, reason: RevocationReason, actor?: string): Promise<CertificateRecord> {
    if (!REVOCATION_REASONS.includes(reason)) throw certificateState(`unknown revocation reason ${String(reason)}`)
    return await this.#changeStatus(serialInput, ['good', 'hold'], 'revoked', reason, 'certificate.revoked', actor)
  }

  /** Suspension (certificateHold): the certificate is refused until resumed. */
  async suspend(serialInput: string, actor?: string): Promise<CertificateRecord> {
    return await this.#changeStatus(serialInput, ['good'], 'hold', 'certificateHold', 'certificate.suspended', actor)
  }

  async resume(serialInput: string, actor?: string): Promise<CertificateRecord> {
    return await this.#changeStatus(serialInput, ['hold'], 'good', null, 'certificate.resumed', actor)
  }

  /**
   * Certificates by subscriber and status, in serial order, a page at a time: `after` is the
   * last serial of the page before. Served by certificate_pkey (and the subscriber index).
   */
  async search(filter: { subscriberId?: string; status?: CertificateStatus; after?: string; limit: number }): Promise<CertificateRecord[]> {
    let query = this.#db.selectFrom('certificate').selectAll()
    if (filter.subscriberId !== undefined) query = query.where('subscriber_id', '=', filter.subscriberId)
    if (filter.status !== undefined) query = query.where('status', '=', filter.status)
    if (filter.after !== undefined) query = query.where('serial', '>', canonicalSerial(filter.after))
    const rows = await query.orderBy('serial').limit(filter.limit).execute()
    return rows.map(toRecord)
  }

  async find(serialInput: string): Promise<CertificateRecord | undefined> {
    const row = await this.#db.selectFrom('certificate').selectAll().where('serial', '=', canonicalSerial(serialInput)).executeTakeFirst()
    return row ? toRecord(row) : undefined
  }

  async listBySubscriber(subscriberId: string): Promise<CertificateRecord[]> {
    const rows = await this.#db.selectFrom('certificate').selectAll().where('subscriber_id', '=', subscriberId).orderBy('not_after').execute()
    return rows.map(toRecord)
  }

  #assertRenewable(record: CertificateRecord): void {
    const now = this.#clock.now()
    const { opensAt, closesAt } = this.renewalWindow(record)
    if (record.status !== 'good') throw certificateState(`certificate ${record.serial} is ${record.status === 'hold' ? 'suspended' : 'revoked'} and cannot be renewed`)
    if (now >= closesAt) throw renewalNotAllowed(`certificate ${record.serial} expired on ${closesAt.toISOString()}; renewal is no longer possible, a new certificate must be issued (reissue)`)
    if (now < opensAt) throw renewalNotAllowed(`renewal of certificate ${record.serial} opens on ${opensAt.toISOString()}`, opensAt)
  }

  /**
   * Issues in one transaction: the challenge used up, `replacing` (the CA's own rules: the limit,
   * the certificates a renewal or reissue revokes, returned), the new row and its audit event,
   * the caller's work, and last the listener for what was revoked.
   */
  async #issue(
    request: IssueRequest & { notAfter?: Date },
    event: AuditEventType | ((ended: string[]) => AuditEventType),
    replacing?: (trx: DatabaseTransaction, serial: string, now: Date) => Promise<string[]>,
  ): Promise<{ certificate: CertificateRecord; ended: string[] }> {
    const key = subscriberKey(request.spki)
    verifyPossession(key, request.proof)
    const ca = await this.#hierarchy.issuing()
    const now = this.#clock.now()
    const serial = canonicalSerial(randomSerial())
    const notAfter = request.notAfter ?? new Date(now.getTime() + this.#settings.validityDays * DAY_MS)
    const spki = Buffer.from(key.export({ format: 'der', type: 'spki' }))
    const partition = crlPartitionOf(serial, this.#settings.crlPartitions ?? 0)
    const cert = await buildSubscriberCertificate({
      serial, subscriberId: request.subscriberId, displayName: request.displayName, holder: request.holder, attested: request.attested,
      spki, notBefore: now, notAfter,
    }, ca, pkiUrls(this.#settings.issuer, partition))
    const row: CertificateRow = {
      serial, subscriber_id: request.subscriberId, holder: request.holder, issuer_id: ca.id,
      der: new Uint8Array(cert.rawData), subject: cert.subject, spki_sha256: sha256(spki).toString('base64url'),
      not_before: cert.notBefore, not_after: cert.notAfter, status: 'good',
      revoked_at: null, revocation_reason: null, replaced_by: null, status_changed_at: null, crl_partition: partition, status_version: null,
    }
    const issued = await this.#db.transaction().execute(async (trx) => {
      await this.#consumeChallenge(trx, request.proof.challenge, now)
      const ended = replacing ? await replacing(trx, serial, now) : []
      await trx.insertInto('certificate').values(row).execute()
      await this.#audit.record(trx, { type: typeof event === 'string' ? event : event(ended), subscriberId: request.subscriberId, certificateSerial: serial, data: { holder: request.holder, notAfter: notAfter.toISOString() } })
      await request.alsoInTransaction?.(trx, toRecord(row))
      const owed = ended.length && this.#listener ? await this.#listener.ended(trx, ended) : []
      return { certificate: toRecord(row), ended, owed }
    })
    if (issued.ended.length) this.#committed()
    if (issued.owed.length) await this.#listener?.committed(issued.owed)
    return { certificate: issued.certificate, ended: issued.ended }
  }

  /** Single use: the delete succeeds for exactly one caller, and only before expiry. */
  async #consumeChallenge(trx: DatabaseTransaction, challenge: Buffer, now: Date): Promise<void> {
    const consumed = await trx.deleteFrom('ca_challenge')
      .where('hash', '=', challengeHash(challenge)).where('expires_at', '>', now)
      .returning('hash').executeTakeFirst()
    if (!consumed) throw invalidPossessionProof('the challenge is unknown, already used or expired; ask for a new one')
  }

  async #changeStatus(serialInput: string, from: CertificateStatus[], to: CertificateStatus, reason: string | null, event: StatusEvent, actor: string | undefined): Promise<CertificateRecord> {
    const serial = canonicalSerial(serialInput)
    const now = this.#clock.now()
    // A resumed certificate restores nothing: what it opened ended with the suspension.
    const ends = to !== 'good'
    let owed: string[] = []
    const changed = await this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('certificate').selectAll().where('serial', '=', serial).forUpdate().executeTakeFirst()
      if (!row) throw certificateNotFound(serial)
      if (!from.includes(row.status)) throw certificateState(`certificate ${serial} is ${row.status}; cannot ${VERBS[event]} it`)
      const updated = await trx.updateTable('certificate')
        .set({ status: to, revoked_at: to === 'good' ? null : now, revocation_reason: reason, status_changed_at: now })
        .where('serial', '=', serial).returningAll().executeTakeFirstOrThrow()
      await this.#audit.record(trx, { type: event, subscriberId: row.subscriber_id, certificateSerial: serial, data: { ...(reason ? { reason } : {}), ...(actor ? { actor } : {}) } })
      await statusChanged(trx, [serial])
      if (ends && this.#listener) owed = await this.#listener.ended(trx, [serial])
      if (!ends) await this.#listener?.resumed(trx, [serial])
      return toRecord(updated)
    })
    this.#committed()
    if (owed.length) await this.#listener?.committed(owed)
    return changed
  }
}

/** In use: not revoked and not expired (valid or suspended). What MAX_CERTIFICATES_IN_USE counts, as add() does in SQL. */
export const isInUse = (c: Pick<CertificateRecord, 'status' | 'notAfter'>, now: Date) => c.status !== 'revoked' && c.notAfter > now

/** What each status change is called in a refusal. */
type StatusEvent = 'certificate.revoked' | 'certificate.suspended' | 'certificate.resumed'
const VERBS: Record<StatusEvent, string> = { 'certificate.revoked': 'revoke', 'certificate.suspended': 'suspend', 'certificate.resumed': 'resume' }

export type CertificateRow = Omit<Selectable<CertificateTable>, 'created_at'>

export function toRecord(row: CertificateRow): CertificateRecord {
  return {
    serial: row.serial, subscriberId: row.subscriber_id, holder: row.holder, issuerId: row.issuer_id,
    der: Buffer.from(row.der), subject: row.subject, spkiSha256: row.spki_sha256,
    notBefore: row.not_before, notAfter: row.not_after, status: row.status,
    revokedAt: row.revoked_at, revocationReason: row.revocation_reason, replacedBy: row.replaced_by,
  }
}

const challengeHash = (challenge: Buffer) => createHash('sha256').update(challenge).digest('hex')

function displayNameOf(subject: string): string {
  return /(?:^|,\s*)CN=([^,]+)/.exec(subject)?.[1] ?? ''
}
