import { createHash } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate } from '@peculiar/asn1-x509'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { CRL_NEXT_UPDATE_MS, CRL_REFRESH_MS } from './constants.ts'
import { encodeCrl, encodeEntry } from './crl-encoder.ts'
import type { CaHierarchy, IssuingCa } from './hierarchy.ts'
import { reasonCode } from './reasons.ts'
import { StatusSource, statusVersion } from './status-version.ts'
import { x509 } from './x509.ts'

/** Revoked certificates read per query while building. */
const PAGE_SIZE = 2000
/** Entries encoded between two yields to the event loop (each slice stays a few milliseconds). */
const ENCODE_SLICE = 1000

export interface Crl {
  der: Buffer
  thisUpdate: Date
  nextUpdate: Date
  number: number
}

/**
 * The issuing CA's CRL. The latest one is kept in the database and served; a new one is built
 * when a certificate's status changed since (certificate_status_version) or it is half a day
 * old, at most every `minIntervalSeconds` per instance, and never on a request's critical path:
 * - a request that finds it stale starts the build and waits for it (the build yields to the
 *   event loop as it goes, so other requests, /healthz among them, are answered meanwhile);
 *   requests while a build runs, or within the interval, get the last good CRL;
 * - entries are read page by page and encoded once each (crl-encoder.ts): linear in their number;
 * - certificates that expired more than one CRL period ago leave it (RFC 5280 section 3.3: an
 *   entry may go once it appeared on a CRL issued after the certificate expired);
 * - the CRL number is claimed at publication under a lock, so instances never publish two CRLs
 *   with one number (a build that lost the race is dropped).
 */
export class CrlPublisher {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock
  readonly #minIntervalMs: number
  readonly #logger: Logger | undefined
  #building: Promise<Crl> | undefined
  #lastBuildStartedAt = 0
  #scheduled: NodeJS.Timeout | undefined
  /** The last CRL read or built, by number: a large CRL is read from the database once, not per request. */
  #served: Crl | undefined

  readonly #source: StatusSource

  /** `source`: where the revoked certificates are read (a replica that has caught up); the database by default. */
  constructor(db: Database, hierarchy: CaHierarchy, clock: Clock, options: { minIntervalSeconds?: number; logger?: Logger; source?: StatusSource } = {}) {
    this.#db = db
    this.#source = options.source ?? new StatusSource(db)
    this.#hierarchy = hierarchy
    this.#clock = clock
    this.#minIntervalMs = (options.minIntervalSeconds ?? 10) * 1000
    this.#logger = options.logger
  }

  /** The CRL to serve now (DER). */
  async current(): Promise<Crl> {
    const ca = await this.#hierarchy.issuing()
    const [version, published] = await Promise.all([
      statusVersion(this.#db),
      this.#db.selectFrom('crl').select(['number', 'this_update', 'status_version']).where('issuer_id', '=', ca.id).executeTakeFirst(), // crl_pkey
    ])
    // Nothing published yet: there is nothing else to serve.
    if (!published) return await this.#build(ca)
    const cached = await this.#published(ca, Number(published.number))
    if (this.#fresh(published, version)) return cached
    if (this.#building) return cached
    const wait = this.#lastBuildStartedAt + this.#minIntervalMs - Date.now()
    if (wait > 0) {
      // Within the interval (a subscriber suspending and resuming at will): later, once.
      this.#scheduled ??= setTimeout(() => {
        this.#scheduled = undefined
        this.current().catch((err) => this.#logger?.error({ err }, 'CRL rebuild failed'))
      }, wait).unref()
      return cached
    }
    return await this.#build(ca)
  }

  /** When the published CRL was built (its thisUpdate), or undefined before the first. */
  async publishedAt(): Promise<Date | undefined> {
    const ca = await this.#hierarchy.issuing()
    const row = await this.#db.selectFrom('crl').select('this_update').where('issuer_id', '=', ca.id).executeTakeFirst() // crl_pkey
    return row?.this_update
  }

  /** The published CRL of this number, from memory when this instance has it. */
  async #published(ca: IssuingCa, number: number): Promise<Crl> {
    if (this.#served?.number === number) return this.#served
    const row = await this.#db.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).executeTakeFirstOrThrow() // crl_pkey
    this.#served = shape(row)
    return this.#served
  }

  /** Builds and publishes a new CRL; one build at a time per instance. */
  async #build(ca: IssuingCa): Promise<Crl> {
    if (this.#building) return await this.#building
    this.#lastBuildStartedAt = Date.now()
    this.#building = this.#buildNow(ca).finally(() => { this.#building = undefined })
    return await this.#building
  }

  async #buildNow(ca: IssuingCa): Promise<Crl> {
    // The version first: a change that commits while this builds leaves the result stale, not wrong.
    const version = await statusVersion(this.#db)
    const latest = await this.#db.selectFrom('crl').select('number').where('issuer_id', '=', ca.id).executeTakeFirst()
    const number = Number(latest?.number ?? 0) + 1
    const thisUpdate = this.#clock.now()
    const nextUpdate = new Date(thisUpdate.getTime() + CRL_NEXT_UPDATE_MS)
    const expiredBefore = new Date(thisUpdate.getTime() - CRL_NEXT_UPDATE_MS)
    // The scan of a national CRL is the heavy read: a replica that has replayed the version takes it.
    const entries = await this.#source.scan(version, (trx) => revokedEntries(trx, ca, expiredBefore))
    const der = await encodeCrl({ issuerName: issuerName(ca), authorityKeyId: authorityKeyId(ca), thisUpdate, nextUpdate, number }, entries, ca.signer)
    const row = { issuer_id: ca.id, number, der: new Uint8Array(der), this_update: thisUpdate, next_update: nextUpdate, status_version: version }
    return await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('postcert-crl:' || current_schema()))`.execute(trx)
      const published = await trx.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).executeTakeFirst()
      // Another instance published this number (or a later one) meanwhile: that one stands.
      if (published && Number(published.number) >= number) return shape(published)
      await trx.insertInto('crl').values(row).onConflict((oc) => oc.column('issuer_id').doUpdateSet(row)).execute()
      this.#logger?.info({ number, entries: entries.length, bytes: der.length }, 'CRL published')
      this.#served = shape(row)
      return this.#served
    })
  }

  #fresh(row: { this_update: Date; status_version: string }, version: string): boolean {
    return row.status_version === version && this.#clock.now().getTime() - row.this_update.getTime() < CRL_REFRESH_MS
  }
}

/** The CRL entries of the issuing CA's revoked and suspended certificates that have not long expired, by serial. */
async function revokedEntries(db: Database, ca: IssuingCa, expiredBefore: Date): Promise<Buffer[]> {
  const entries: Buffer[] = []
  let after = ''
  for (;;) {
    const page = await db.selectFrom('certificate')
      .select(['serial', 'revoked_at', 'revocation_reason', 'status'])
      .where('issuer_id', '=', ca.id).where('status', '!=', 'good').where('serial', '>', after)
      .where('not_after', '>', expiredBefore)
      .orderBy('serial').limit(PAGE_SIZE).execute() // certificate_crl_idx
    for (let i = 0; i < page.length; i++) {
      const e = page[i]!
      entries.push(encodeEntry({
        serial: e.serial, revokedAt: e.revoked_at!,
        reason: e.status === 'hold' ? x509.X509CrlReason.certificateHold : reasonCode(e.revocation_reason),
      }))
      if (i % ENCODE_SLICE === ENCODE_SLICE - 1) await yieldToEventLoop()
    }
    if (page.length < PAGE_SIZE) break
    after = page.at(-1)!.serial
    await yieldToEventLoop()
  }
  return entries
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The issuing CA certificate's subject, byte for byte: the CRL's issuer. */
export function issuerName(ca: IssuingCa): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(AsnConvert.parse(ca.certificate.rawData, Certificate).tbsCertificate.subject))
}

/** The issuing CA's subject key identifier, or (without one) the SHA-1 of its public key, as RFC 5280 suggests. */
export function authorityKeyId(ca: IssuingCa): Uint8Array {
  const ski = ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)
  if (ski) return Buffer.from(ski.keyId, 'hex')
  const spki = AsnConvert.parse(ca.certificate.rawData, Certificate).tbsCertificate.subjectPublicKeyInfo
  return createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest()
}

function shape(row: { der: Uint8Array; this_update: Date; next_update: Date; number: number | string }): Crl {
  return { der: Buffer.from(row.der), thisUpdate: row.this_update, nextUpdate: row.next_update, number: Number(row.number) }
}
