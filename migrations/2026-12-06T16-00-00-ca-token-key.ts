import type { Kysely } from 'kysely'

// Frozen in time: a CA whose key is on a PKCS#11 token (an HSM) names it by its label instead of
// holding a sealed copy.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ca_certificate').addColumn('token_key_label', 'text').execute()
}
