import { generateKeyPair as generateKeyPairCb, randomUUID, type JsonWebKey } from 'node:crypto'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { SigningKeyState, SigningKeyType } from '../db/schema/signing-key.ts'
import type { Clock } from '../util/clock.ts'
import { rewrapTable, type RewrapCount, type SealedBox } from './sealed-box.ts'

const generateKeyPair = promisify(generateKeyPairCb)

/** ES256 is the default signing algorithm; the RSA key serves clients that ask for RS256 or PS256. */
export const KEY_TYPES: readonly SigningKeyType[] = ['EC', 'RSA']

export interface SigningKeyInfo {
  kid: string
  kty: SigningKeyType
  state: SigningKeyState
  createdAt: Date
  activatedAt: Date | null
  retiredAt: Date | null
  publishUntil: Date | null
}

export type PrivateJwk = JsonWebKey & { kid: string; use: 'sig'; key_ops?: string[] }

/** The public part of a signing JWK (what the JWKS publishes). */
export function publicJwk(jwk: PrivateJwk): JsonWebKey & { kid: string } {
  const { kty, crv, x, y, n, e } = jwk
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid: jwk.kid, use: 'sig' }).filter(([, v]) => v !== undefined)) as JsonWebKey & { kid: string }
}

export interface RotationResult {
  activated: string[]
  retired: string[]
  prepublished: string[]
}

/**
 * OIDC signing keys. Each key type always has an active key (signs) and a next key (already
 * published in the JWKS, so relying parties have cached it before it signs anything). A rotation
 * promotes next -> active, active -> retired, and publishes a fresh next key. Retired keys stay in
 * the JWKS for `retainSeconds`, long enough for everything they signed to expire.
 */
export class SigningKeyStore {
  readonly #db: Database
  readonly #box: SealedBox
  readonly #clock: Clock
  readonly #retainSeconds: number

  constructor(db: Database, box: SealedBox, clock: Clock, retainSeconds: number) {
    this.#db = db
    this.#box = box
    this.#clock = clock
    this.#retainSeconds = retainSeconds
  }

  /** Creates the active and next key of each type if missing; safe when instances race. */
  async ensure(): Promise<void> {
    const existing = await this.#db.selectFrom('signing_key').select(['kty', 'state']).where('state', 'in', ['active', 'next']).execute()
    for (const kty of KEY_TYPES) {
      for (const state of ['active', 'next'] as const) {
        if (existing.some((k) => k.kty === kty && k.state === state)) continue
        const row = await this.#newRow(kty, state)
        // The partial unique index on (kty) per state makes a racing duplicate a no-op.
        // The state is a literal: PostgreSQL matches a partial index to ON CONFLICT when it plans,
        // and a prepared statement is planned before its parameters are known.
        await this.#db.insertInto('signing_key').values(row).onConflict((oc) => oc.column('kty').where('state', '=', sql.lit(state)).doNothing()).execute()
      }
    }
  }

  /** Private JWKs to configure the provider with: active first (they sign), then the others. */
  async publishedJwks(): Promise<PrivateJwk[]> {
    const rows = await this.#published().select(['kid', 'state', 'sealed_jwk']).execute()
    const rank = { active: 0, next: 1, retired: 2 }
    rows.sort((a, b) => rank[a.state] - rank[b.state])
    return rows.map((row) => {
      const jwk = JSON.parse(this.#box.openText(row.sealed_jwk, context(row.kid))) as PrivateJwk
      // Only the active key may sign; the others are published for verification.
      if (row.state !== 'active') jwk.key_ops = ['verify']
      return jwk
    })
  }

  /** Changes whenever the published set or its roles change; instances poll it to reload. */
  async fingerprint(): Promise<string> {
    const rows = await this.#published().select(['kid', 'state']).orderBy('kid').execute()
    return rows.map((r) => `${r.kid}:${r.state}`).join(',')
  }

  /** Re-seals every signing key with the current master key. */
  async rewrap(): Promise<RewrapCount> {
    return await rewrapTable(this.#box, 'signing_key',
      () => this.#db.selectFrom('signing_key').select(['kid', 'sealed_jwk']).execute(), (r) => r.sealed_jwk, (r) => context(r.kid),
      async (r, resealed) => (await this.#db.updateTable('signing_key').set({ sealed_jwk: resealed })
        .where('kid', '=', r.kid).where('sealed_jwk', '=', r.sealed_jwk).executeTakeFirst()).numUpdatedRows)
  }

  async list(): Promise<SigningKeyInfo[]> {
    const rows = await this.#db.selectFrom('signing_key')
      .select(['kid', 'kty', 'state', 'created_at', 'activated_at', 'retired_at', 'publish_until'])
      .orderBy('created_at').orderBy('kid').execute()
    return rows.map((r) => ({
      kid: r.kid, kty: r.kty, state: r.state, createdAt: r.created_at,
      activatedAt: r.activated_at, retiredAt: r.retired_at, publishUntil: r.publish_until,
    }))
  }

  async rotate(): Promise<RotationResult> {
    await this.ensure()
    const fresh = await Promise.all(KEY_TYPES.map((kty) => this.#newRow(kty, 'next')))
    const now = this.#clock.now()
    const publishUntil = new Date(now.getTime() + this.#retainSeconds * 1000)
    return await this.#db.transaction().execute(async (trx) => {
      // Serialises concurrent rotations: the second one rotates the state the first left.
      await sql`select pg_advisory_xact_lock(hashtext('postcert-rotate:' || current_schema()))`.execute(trx)
      const result: RotationResult = { activated: [], retired: [], prepublished: [] }
      for (const row of fresh) {
        const kty = row.kty
        const retired = await trx.updateTable('signing_key')
          .set({ state: 'retired', retired_at: now, publish_until: publishUntil })
          .where('kty', '=', kty).where('state', '=', 'active').returning('kid').execute()
        const activated = await trx.updateTable('signing_key').set({ state: 'active', activated_at: now })
          .where('kty', '=', kty).where('state', '=', 'next').returning('kid').execute()
        await trx.insertInto('signing_key').values(row).execute()
        result.retired.push(...retired.map((r) => r.kid))
        result.activated.push(...activated.map((r) => r.kid))
        result.prepublished.push(row.kid)
      }
      await this.#pruneExpired(trx, now)
      return result
    })
  }

  /** Keys that are active, next, or retired but still inside their publication window. */
  #published() {
    return this.#db.selectFrom('signing_key').where((eb) => eb.or([
      eb('state', '!=', 'retired'),
      eb('publish_until', '>', this.#clock.now()),
    ]))
  }

  async #pruneExpired(trx: DatabaseTransaction, now: Date): Promise<void> {
    await trx.deleteFrom('signing_key').where('state', '=', 'retired').where('publish_until', '<=', now).execute()
  }

  async #newRow(kty: SigningKeyType, state: 'active' | 'next') {
    const { privateKey } = kty === 'EC'
      ? await generateKeyPair('ec', { namedCurve: 'P-256' })
      : await generateKeyPair('rsa', { modulusLength: 2048 })
    const kid = randomUUID()
    const jwk: PrivateJwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' }
    const now = this.#clock.now()
    return {
      kid, kty, state,
      sealed_jwk: this.#box.seal(JSON.stringify(jwk), context(kid)),
      activated_at: state === 'active' ? now : null,
      retired_at: null, publish_until: null,
    }
  }
}

const context = (kid: string) => `signing_key:${kid}`
