import { randomBytes } from 'node:crypto'
import type { Selectable } from 'kysely'
import { SUBSCRIBER_CACHE_SECONDS } from '../constants.ts'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { SubscriberTable } from '../db/schema/subscriber.ts'
import type { Clock } from '../util/clock.ts'
import { TtlCache } from '../util/ttl-cache.ts'
import type { ChangeNotices } from '../db/change-notices.ts'
import { maskPhone } from '../phone/phone-number.ts'

export type Subscriber = Selectable<SubscriberTable>

/** 김우정 -> 김*정, 이솝 -> 이*, Kim Minjun -> K********n: enough for the person to know it is theirs. */
export function maskName(name: string): string {
  const letters = [...name]
  if (letters.length <= 1) return name
  if (letters.length === 2) return `${letters[0]}*`
  return `${letters[0]}${'*'.repeat(letters.length - 2)}${letters.at(-1)}`
}

/** How a subscriber appears where others may see it (the phone's passkey list): masked name and phone. */
export const subscriberLabel = (s: { name: string; phone_e164: string }) => `${maskName(s.name)} · ${maskPhone(s.phone_e164)}`

/** A person whose phone and identity document were checked: what PostCert keeps of them. */
export type VerifiedPerson = Omit<SubscriberTable, 'id' | 'created_at' | 'updated_at'>

/** What the provider releases of a subscriber as claims. */
export interface SubscriberClaims {
  name: string
  birthdate: string
  phone_number: string
  /** Connecting identifier: the same for a person at every institution, so released only to clients the operator allows. */
  ci: string
}

/**
 * The subscriber table: one row per person, keyed by a random id and unique on the connecting
 * identifier (ci). This module alone writes it; reads of a single subscriber go through it too.
 * Throws only what the database throws.
 */
export class SubscriberStore {
  readonly #db: Database
  readonly #clock: Clock
  // A login reads the subscriber's claims three times within a second (login, token, userinfo).
  readonly #claims = new TtlCache<SubscriberClaims>(SUBSCRIBER_CACHE_SECONDS)

  readonly #changes?: ChangeNotices

  constructor(deps: { db: Database; clock: Clock; changes?: ChangeNotices }) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#changes = deps.changes
    this.#changes?.register('subscriber', this.#claims)
  }

  /**
   * Records a verified person in the caller's transaction, or brings the record of the same
   * person (the same ci) up to date: a concurrent first enrollment of one person updates instead
   * of duplicating (unique on ci).
   */
  async recordVerified(trx: DatabaseTransaction, person: VerifiedPerson): Promise<Subscriber> {
    const now = this.#clock.now()
    const { ci, ...fields } = person
    const subscriber = await trx.insertInto('subscriber')
      .values({ id: `ps_${randomBytes(12).toString('base64url')}`, ci, created_at: now, updated_at: now, ...fields })
      .onConflict((oc) => oc.column('ci').doUpdateSet({ ...fields, updated_at: now }))
      .returningAll().executeTakeFirstOrThrow()
    await this.#changes?.announce(trx, 'subscriber', subscriber.id)
    return subscriber
  }

  /** A subscriber of a fixed id, created when missing and otherwise left as it is (test mode's). */
  async ensure(id: string, person: VerifiedPerson): Promise<void> {
    const now = this.#clock.now()
    await this.#db.insertInto('subscriber').values({ id, ...person, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('id').doNothing()).execute()
  }

  async find(id: string): Promise<Subscriber | undefined> {
    return await this.#db.selectFrom('subscriber').selectAll().where('id', '=', id).executeTakeFirst() // primary key
  }

  /** The subscribers with this mobile number (E.164); served by subscriber_phone_idx. */
  async findByPhone(e164: string): Promise<Subscriber[]> {
    return await this.#db.selectFrom('subscriber').selectAll().where('phone_e164', '=', e164).orderBy('created_at').limit(50).execute()
  }

  /** The subscriber's claims, cached for SUBSCRIBER_CACHE_SECONDS (a change is announced to every instance: recordVerified). */
  async claims(id: string): Promise<SubscriberClaims | undefined> {
    const cached = this.#claims.get(id)
    if (cached) return cached
    const s = await this.#db.selectFrom('subscriber').select(['name', 'birthdate', 'phone_e164', 'ci']).where('id', '=', id).executeTakeFirst() // primary key
    if (!s) return undefined
    const claims = { name: s.name, birthdate: s.birthdate, phone_number: s.phone_e164, ci: s.ci }
    this.#claims.set(id, claims)
    return claims
  }
}
