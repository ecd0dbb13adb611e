import type { Kysely } from 'kysely'

// Frozen in time: login challenges recorded as they are used, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // Challenges are made without writing (possession/proofs.ts): nothing counts an interaction's
  // live ones any more, so their index only cost each recorded challenge a write.
  await db.schema.dropIndex('login_challenge_interaction_idx').execute()
}
