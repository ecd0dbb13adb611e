import type { Kysely } from 'kysely'

// Frozen in time: login challenges counted per interaction, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // A login page may hold only so many unused challenges (login-service.ts createChallenge).
  await db.schema.createIndex('login_challenge_interaction_idx').on('login_challenge').columns(['interaction_uid', 'expires_at']).execute()
}
