import { sql, type Kysely } from 'kysely'

// Frozen in time: ID tokens of clients that named no algorithm were signed with ES256 until this
// date, when the default became RS256. Clients stored without one keep ES256, so the relying
// parties already integrated see no change; new clients get the new default.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`update oidc_payload set payload = (payload::jsonb || '{"id_token_signed_response_alg":"ES256"}'::jsonb)::text
    where model = 'Client' and not (payload::jsonb ? 'id_token_signed_response_alg')`.execute(db)
}
