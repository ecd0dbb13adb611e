import { AsnConvert } from '@peculiar/asn1-schema'
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { CRL_NEXT_UPDATE_MS, CRL_REFRESH_MS } from './constants.ts'
import type { CaHierarchy } from './hierarchy.ts'
import { reasonCode } from './reasons.ts'
import { x509 } from './x509.ts'

/**
 * The issuing CA's CRL. One is kept in the database and served until a certificate's status
 * changes or it is half a day old; then the next request builds a new one with the next CRL
 * number (under a lock, so instances never publish two CRLs with one number).
 */
export class CrlPublisher {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock

  constructor(db: Database, hierarchy: CaHierarchy, clock: Clock) {
    this.#db = db
    this.#hierarchy = hierarchy
    this.#clock = clock
  }

  /** The current CRL, DER. */
  async current(): Promise<{ der: Buffer; thisUpdate: Date; nextUpdate: Date; number: number }> {
    const ca = await this.#hierarchy.issuing()
    const version = await this.#statusVersion()
    const cached = await this.#db.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).executeTakeFirst()
    if (cached && this.#fresh(cached, version)) return shape(cached)

    return await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('postcert-crl:' || current_schema()))`.execute(trx)
      const latest = await trx.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).executeTakeFirst()
      // Another instance may have built it while this one waited for the lock.
      if (latest && this.#fresh(latest, version)) return shape(latest)
      const entries = await trx.selectFrom('certificate')
        .select(['serial', 'revoked_at', 'revocation_reason', 'status'])
        .where('issuer_id', '=', ca.id).where('status', '!=', 'good') // certificate_unrevoked_idx
        .orderBy('revoked_at').execute()
      const thisUpdate = this.#clock.now()
      const nextUpdate = new Date(thisUpdate.getTime() + CRL_NEXT_UPDATE_MS)
      const number = Number(latest?.number ?? 0) + 1
      const crl = await x509.X509CrlGenerator.create({
        issuer: ca.certificate.subject,
        thisUpdate,
        nextUpdate,
        signingKey: ca.signingKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions: [
          await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
          new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(number))),
        ],
        entries: entries.map((e) => ({
          serialNumber: e.serial.length % 2 ? `0${e.serial}` : e.serial,
          revocationDate: e.revoked_at!,
          reason: e.status === 'hold' ? x509.X509CrlReason.certificateHold : reasonCode(e.revocation_reason),
        })),
      })
      const row = {
        issuer_id: ca.id, number, der: new Uint8Array(crl.rawData), this_update: thisUpdate, next_update: nextUpdate, status_version: version,
      }
      await trx.insertInto('crl').values(row).onConflict((oc) => oc.column('issuer_id').doUpdateSet(row)).execute()
      return shape(row)
    })
  }

  #fresh(row: { this_update: Date; status_version: string }, version: string): boolean {
    return row.status_version === version && this.#clock.now().getTime() - row.this_update.getTime() < CRL_REFRESH_MS
  }

  /**
   * Moves whenever any certificate is revoked, suspended or resumed: every such change moves the
   * latest change time or one of the two counts (even two changes within one millisecond).
   */
  async #statusVersion(): Promise<string> {
    const row = await sql<{ latest: Date | null; unrevoked: number; held: number }>`
      select max(status_changed_at) as latest,
             count(*) filter (where status != 'good')::int as unrevoked,
             count(*) filter (where status = 'hold')::int as held
      from certificate where status_changed_at is not null
    `.execute(this.#db)
    const r = row.rows[0]
    return r?.latest ? `${new Date(r.latest).toISOString()}/${r.unrevoked}/${r.held}` : 'none'
  }
}

function shape(row: { der: Uint8Array; this_update: Date; next_update: Date; number: number | string }) {
  return { der: Buffer.from(row.der), thisUpdate: row.this_update, nextUpdate: row.next_update, number: Number(row.number) }
}
