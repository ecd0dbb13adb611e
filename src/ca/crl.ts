import { createHash } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate } from '@peculiar/asn1-x509'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { CRL_BUILD_SPACING, CRL_MEMORY_BYTES, CRL_SPACED_BUILD_MS, CRL_NEXT_UPDATE_MS, CRL_REFRESH_MS } from './constants.ts'
import { encodeCrl, encodeEntry } from './crl-encoder.ts'
import type { CaHierarchy, IssuingCa } from './hierarchy.ts'
import { reasonCode } from './reasons.ts'
import { crlUrl } from './profile.ts'
import { StatusSource, statusVersion, versionNumber } from './status-version.ts'
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

/** What this instance knows of one CRL (the complete one, or a partition's). */
interface ScopeState {
  building?: Promise<Crl>
  lastBuildStartedAt: number
  /** How long the last build took (ms): it spaces the next one (CRL_BUILD_SPACING). */
  lastBuildMs: number
  scheduled?: NodeJS.Timeout
  /** The status version at which the CRL in memory was last found current (built or checked). */
  currentAt?: string
}

/**
 * The issuing CA's CRLs: the complete one (/pki/crl), and with CRL_PARTITIONS a partition's
 * (/pki/crl/N), which lists only the certificates that name it in their distribution point, under
 * a critical issuing distribution point (RFC 5280 section 5.2.5), so that a relying party checks
 * a certificate against a bounded list whatever the CA's size. The latest of each is kept in the
 * database and served; a new one is built when a certificate it covers changed status since
 * (certificate_status_version: for a partition, one of its own) or it is half a day old, at most
 * every `minIntervalSeconds` per instance and per CRL (a long build spaces them more:
 * CRL_BUILD_SPACING), and never on a request's critical path:
 * - a request that finds it stale starts the build and waits for it (the build yields to the
 *   event loop as it goes, so other requests, /healthz among them, are answered meanwhile);
 *   requests while a build runs, or within the interval, get the last good CRL;
 * - entries are read page by page and encoded once each (crl-encoder.ts): linear in their number;
 * - certificates that expired more than one CRL period ago leave it (RFC 5280 section 3.3: an
 *   entry may go once it appeared on a CRL issued after the certificate expired);
 * - a CRL's number is claimed at publication under a lock, so instances never publish two CRLs
 *   of one scope with one number (a build that lost the race is dropped).
 * Partitions are built when asked for: one that no certificate names is an empty, signed CRL.
 */
export class CrlPublisher {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock
  readonly #minIntervalMs: number
  readonly #logger: Logger | undefined
  readonly #issuer: string
  readonly #states = new Map<string, ScopeState>()
  /** The last CRL read or built of each scope, least recently served first: a large CRL is read from the database once, not per request. */
  readonly #served = new Map<string, Crl>()
  #servedBytes = 0

  readonly #source: StatusSource

  /**
   * `issuer`: PUBLIC_URL, which partitions' distribution points are under; `source`: where the
   * revoked certificates are read (a replica that has caught up); the database by default.
   */
  constructor(db: Database, hierarchy: CaHierarchy, clock: Clock, options: { issuer: string; minIntervalSeconds?: number; logger?: Logger; source?: StatusSource }) {
    this.#db = db
    this.#source = options.source ?? new StatusSource(db)
    this.#hierarchy = hierarchy
    this.#clock = clock
    this.#issuer = options.issuer
    this.#minIntervalMs = (options.minIntervalSeconds ?? 10) * 1000
    this.#logger = options.logger
  }

  /** The CRL to serve now (DER): the complete one, or partition `partition`'s. */
  async current(partition: number | null = null): Promise<Crl> {
    const ca = await this.#hierarchy.issuing()
    const scope = scopeOf(partition)
    const state = this.#stateOf(scope)
    const version = await statusVersion(this.#db)
    const kept = this.#served.get(scope)
    // Found current at this very version, and young: nothing more to read.
    if (kept && state.currentAt === version && this.#young(kept.thisUpdate)) return this.#keep(scope, kept)
    const published = await this.#db.selectFrom('crl').select(['number', 'this_update', 'status_version'])
      .where('issuer_id', '=', ca.id).where('scope', '=', scope).executeTakeFirst() // crl_pkey
    // Nothing published yet: there is nothing else to serve.
    if (!published) return await this.#build(ca, partition, state)
    const cached = await this.#published(ca, scope, Number(published.number))
    if (await this.#fresh(ca, partition, published, version)) {
      state.currentAt = version
      return cached
    }
    if (state.building) return cached
    const wait = state.lastBuildStartedAt + this.#interval(state) - Date.now()
    if (wait > 0) {
      // Within the interval (a subscriber suspending and resuming at will): later, once.
      state.scheduled ??= setTimeout(() => {
        state.scheduled = undefined
        this.current(partition).catch((err) => this.#logger?.error({ err }, 'CRL rebuild failed'))
      }, wait).unref()
      return cached
    }
    return await this.#build(ca, partition, state)
  }

  /** When the published complete CRL was built (its thisUpdate), or undefined before the first. */
  async publishedAt(): Promise<Date | undefined> {
    const ca = await this.#hierarchy.issuing()
    const row = await this.#db.selectFrom('crl').select('this_update').where('issuer_id', '=', ca.id).where('scope', '=', COMPLETE).executeTakeFirst() // crl_pkey
    return row?.this_update
  }

  #stateOf(scope: string): ScopeState {
    let state = this.#states.get(scope)
    if (!state) this.#states.set(scope, state = { lastBuildStartedAt: 0, lastBuildMs: 0 })
    return state
  }

  /** The published CRL of this scope and number, from memory when this instance has it. */
  async #published(ca: IssuingCa, scope: string, number: number): Promise<Crl> {
    const kept = this.#served.get(scope)
    if (kept?.number === number) return this.#keep(scope, kept)
    const row = await this.#db.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).where('scope', '=', scope).executeTakeFirstOrThrow() // crl_pkey
    return this.#keep(scope, shape(row))
  }

  /** Keeps `crl` as the scope's, most recently served; the least recently served others go past CRL_MEMORY_BYTES. */
  #keep(scope: string, crl: Crl): Crl {
    const before = this.#served.get(scope)
    if (before) {
      this.#served.delete(scope)
      this.#servedBytes -= before.der.length
    }
    this.#served.set(scope, crl)
    this.#servedBytes += crl.der.length
    for (const [oldest, old] of this.#served) {
      if (this.#servedBytes <= CRL_MEMORY_BYTES || oldest === scope) break
      this.#served.delete(oldest)
      this.#servedBytes -= old.der.length
    }
    return crl
  }

  /** Builds and publishes a new CRL of this scope; one build at a time per instance and scope. */
  async #build(ca: IssuingCa, partition: number | null, state: ScopeState): Promise<Crl> {
    if (state.building) return await state.building
    state.lastBuildStartedAt = Date.now()
    state.building = this.#buildNow(ca, partition, state).finally(() => {
      state.building = undefined
      state.lastBuildMs = Date.now() - state.lastBuildStartedAt
    })
    return await state.building
  }

  async #buildNow(ca: IssuingCa, partition: number | null, state: ScopeState): Promise<Crl> {
    const scope = scopeOf(partition)
    // The version first: a change that commits while this builds leaves the result stale, not wrong.
    const version = await statusVersion(this.#db)
    const latest = await this.#db.selectFrom('crl').select('number').where('issuer_id', '=', ca.id).where('scope', '=', scope).executeTakeFirst()
    const number = Number(latest?.number ?? 0) + 1
    const thisUpdate = this.#clock.now()
    const nextUpdate = new Date(thisUpdate.getTime() + CRL_NEXT_UPDATE_MS)
    const expiredBefore = new Date(thisUpdate.getTime() - CRL_NEXT_UPDATE_MS)
    // The scan of a national CRL is the heavy read: a replica that has replayed the version takes it.
    const { parts, count } = await this.#source.scan(version, (trx) => revokedEntries(trx, ca, partition, expiredBefore))
    const der = await encodeCrl({
      issuerName: issuerName(ca), authorityKeyId: authorityKeyId(ca), thisUpdate, nextUpdate, number,
      ...(partition === null ? {} : { distributionPoint: crlUrl(this.#issuer, partition) }),
    }, parts, ca.signer)
    const row = { issuer_id: ca.id, scope, number, der, this_update: thisUpdate, next_update: nextUpdate, status_version: version }
    await yieldToEventLoop()
    return await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('postcert-crl:' || current_schema()))`.execute(trx)
      // The number only: the CRL it replaces may be tens of MiB, and is not needed.
      const published = await trx.selectFrom('crl').select('number').where('issuer_id', '=', ca.id).where('scope', '=', scope).executeTakeFirst()
      // Another instance published this number (or a later one) meanwhile: that one stands.
      if (published && Number(published.number) >= number) {
        return this.#keep(scope, shape(await trx.selectFrom('crl').selectAll().where('issuer_id', '=', ca.id).where('scope', '=', scope).executeTakeFirstOrThrow()))
      }
      // The DER goes once, as the insert's value; the update takes it from there (excluded).
      await trx.insertInto('crl').values(row).onConflict((oc) => oc.columns(['issuer_id', 'scope']).doUpdateSet((eb) => ({
        number: eb.ref('excluded.number'), der: eb.ref('excluded.der'), this_update: eb.ref('excluded.this_update'),
        next_update: eb.ref('excluded.next_update'), status_version: eb.ref('excluded.status_version'),
      }))).execute()
      this.#logger?.info({ scope, number, entries: count, bytes: der.length }, 'CRL published')
      state.currentAt = version
      return this.#keep(scope, shape(row))
    })
  }

  /**
   * Whether the published CRL is current: half a day old at most, and built at the status
   * version of now or (a partition's) after the last status change of any of its certificates.
   */
  async #fresh(ca: IssuingCa, partition: number | null, row: { this_update: Date; status_version: string }, version: string): Promise<boolean> {
    if (!this.#young(row.this_update)) return false
    if (row.status_version === version) return true
    if (partition === null) return false
    const { changed } = await this.#db.selectFrom('certificate').select((eb) => eb.fn.max('status_version').as('changed'))
      .where('issuer_id', '=', ca.id).where('crl_partition', '=', partition).where('status_version', 'is not', null)
      .executeTakeFirstOrThrow() // certificate_partition_version_idx
    return changed === null || Number(changed) <= versionNumber(row.status_version)
  }

  /** How long after a build starts the next may: CRL_MIN_INTERVAL_SECONDS, or longer after a long build. */
  #interval(state: ScopeState): number {
    return Math.max(this.#minIntervalMs, state.lastBuildMs >= CRL_SPACED_BUILD_MS ? CRL_BUILD_SPACING * state.lastBuildMs : 0)
  }

  #young(thisUpdate: Date): boolean {
    return this.#clock.now().getTime() - thisUpdate.getTime() < CRL_REFRESH_MS
  }
}

const COMPLETE = 'complete'
const scopeOf = (partition: number | null) => (partition === null ? COMPLETE : `p${partition}`)

/** The CRL entries of the issuing CA's revoked and suspended certificates (of one partition, or all) that have not long expired, by serial. */
async function revokedEntries(db: Database, ca: IssuingCa, partition: number | null, expiredBefore: Date): Promise<{ parts: Buffer[]; count: number }> {
  // A buffer per thousand entries, not per entry: a million small buffers kept to the end of
  // the build would be a million objects for every garbage collection meanwhile to go through.
  const parts: Buffer[] = []
  let count = 0
  let after = ''
  for (;;) {
    let query = db.selectFrom('certificate')
      .select(['serial', 'revoked_at', 'revocation_reason', 'status'])
      .where('issuer_id', '=', ca.id).where('status', '!=', 'good').where('serial', '>', after)
      .where('not_after', '>', expiredBefore)
    if (partition !== null) query = query.where('crl_partition', '=', partition)
    const page = await query.orderBy('serial').limit(PAGE_SIZE).execute() // certificate_crl_idx, certificate_crl_partition_idx
    let encoded: Buffer[] = []
    for (let i = 0; i < page.length; i++) {
      const e = page[i]!
      encoded.push(encodeEntry({
        serial: e.serial, revokedAt: e.revoked_at!,
        reason: e.status === 'hold' ? x509.X509CrlReason.certificateHold : reasonCode(e.revocation_reason),
      }))
      if (i % ENCODE_SLICE === ENCODE_SLICE - 1) {
        parts.push(Buffer.concat(encoded))
        encoded = []
        await yieldToEventLoop()
      }
    }
    if (encoded.length) parts.push(Buffer.concat(encoded))
    count += page.length
    if (page.length < PAGE_SIZE) break
    after = page.at(-1)!.serial
    await yieldToEventLoop()
  }
  return { parts, count }
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
  // A Buffer over the same bytes (PGlite gives a Uint8Array): a CRL of tens of MiB is not copied.
  const der = Buffer.isBuffer(row.der) ? row.der : Buffer.from(row.der.buffer, row.der.byteOffset, row.der.byteLength)
  return { der, thisUpdate: row.this_update, nextUpdate: row.next_update, number: Number(row.number) }
}
