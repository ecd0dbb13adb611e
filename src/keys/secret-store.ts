import { randomBytes } from 'node:crypto'
import type { Database } from '../db/database.ts'
import type { RewrapCount, SealedBox } from './sealed-box.ts'
import { rewrapTable, UnsealError } from './sealed-box.ts'

const CHECK_NAME = 'master-key-check'
const CHECK_VALUE = 'postcert'

export class MasterKeyMismatchError extends Error {
  override name = 'MasterKeyMismatchError'
}

/**
 * Named server secrets, generated once and shared by every instance through the database,
 * sealed with the master key. Creation is race-safe: the first insert wins and everyone reads it.
 */
export class SecretStore {
  readonly #db: Database
  readonly #box: SealedBox

  constructor(db: Database, box: SealedBox) {
    this.#db = db
    this.#box = box
  }

  /** Fails at start-up when the database was set up under another POSTCERT_MASTER_KEY. */
  async checkMasterKey(): Promise<void> {
    const sealed = await this.#getOrCreateSealed(CHECK_NAME, () => CHECK_VALUE)
    try {
      if (this.#box.openText(sealed, context(CHECK_NAME)) === CHECK_VALUE) return
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err
    }
    throw new MasterKeyMismatchError('POSTCERT_MASTER_KEY does not match the key this database was set up with')
  }

  /** Whether the check value is sealed with a key other than the current one (a rotation not yet rewrapped). */
  async sealedWithPreviousKey(): Promise<boolean> {
    const row = await this.#db.selectFrom('server_secret').select('sealed_value').where('name', '=', CHECK_NAME).executeTakeFirst()
    return row !== undefined && !this.#box.isCurrent(row.sealed_value)
  }

  /** Re-seals every server secret with the current master key. */
  async rewrap(): Promise<RewrapCount> {
    return await rewrapTable(this.#box, 'server_secret',
      () => this.#db.selectFrom('server_secret').select(['name', 'sealed_value']).execute(), (r) => r.sealed_value, (r) => context(r.name),
      async (r, resealed) => (await this.#db.updateTable('server_secret').set({ sealed_value: resealed })
        .where('name', '=', r.name).where('sealed_value', '=', r.sealed_value).executeTakeFirst()).numUpdatedRows)
  }

  async getOrCreate(name: string, generate: () => string): Promise<string> {
    return this.#box.openText(await this.#getOrCreateSealed(name, generate), context(name))
  }

  /** A list of random 32-byte keys, base64url, e.g. for cookie signing. */
  async randomKeys(name: string, count = 1): Promise<string[]> {
    const text = await this.getOrCreate(name, () =>
      JSON.stringify(Array.from({ length: count }, () => randomBytes(32).toString('base64url'))),
    )
    return JSON.parse(text) as string[]
  }

  async #getOrCreateSealed(name: string, generate: () => string): Promise<string> {
    await this.#db
      .insertInto('server_secret')
      .values({ name, sealed_value: this.#box.seal(generate(), context(name)) })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute()
    const row = await this.#db.selectFrom('server_secret').select('sealed_value').where('name', '=', name).executeTakeFirstOrThrow()
    return row.sealed_value
  }
}

const context = (name: string) => `server_secret:${name}`
