import { sql, type Kysely } from 'kysely'

// Frozen in time: a certificate's status governs the logins it opened, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // The certificate behind each login-bound row (sessions, interactions after a login, codes,
  // access and refresh tokens), resolved when the row is written; '' when its login is unknown or
  // already ended, which no certificate matches. Rows of a revoked, suspended or expired
  // certificate are never returned, and a status change deletes them by this column.
  await db.schema.alterTable('oidc_payload').addColumn('certificate_serial', 'text').execute()
  await db.schema.createIndex('oidc_payload_certificate_idx').on('oidc_payload').column('certificate_serial')
    .where(sql.ref('certificate_serial'), 'is not', null).execute()
  // Rows written before: bound to their login's certificate as a new write would be ('' when the
  // login is unknown), so a status change governs them too. payload is JSON text (json, not jsonb:
  // jsonb refuses \u0000).
  await sql`update oidc_payload p set certificate_serial = coalesce((
      select ls.certificate_serial from login_session ls
      where ls.session_uid = coalesce(p.payload::json ->> 'sessionUid', p.payload::json ->> 'uid')
        and ls.auth_time = (coalesce(p.payload::json ->> 'authTime', p.payload::json -> 'extra' ->> 'auth_time', p.payload::json ->> 'loginTs'))::numeric::bigint
    ), '')
    where (p.model in ('AuthorizationCode', 'RefreshToken', 'AccessToken') and p.payload::json ->> 'sessionUid' is not null)
       or (p.model = 'Session' and p.payload::json ->> 'accountId' is not null)`.execute(db)
  await sql`update oidc_payload p set certificate_serial = coalesce(
      p.payload::json -> 'result' -> 'login' ->> 'certificateSerial', p.payload::json -> 'lastSubmission' -> 'login' ->> 'certificateSerial')
    where p.model = 'Interaction'
      and coalesce(p.payload::json -> 'result' -> 'login' ->> 'certificateSerial', p.payload::json -> 'lastSubmission' -> 'login' ->> 'certificateSerial') is not null`.execute(db)

  // Which institution a login proved possession for (a session is reused only there), and when a
  // status change of its certificate ended it (it then opens nothing more).
  await db.schema.alterTable('login_session').addColumn('client_id', 'text').execute()
  await db.schema.alterTable('login_session').addColumn('ended_at', 'timestamptz').execute()

  // The PostCert session a portal sign-in made: the portal's logout ends it too.
  await db.schema.alterTable('account_session').addColumn('oidc_session_uid', 'text').execute()
  // Status changes end a certificate's portal sessions by this column.
  await db.schema.createIndex('account_session_certificate_idx').on('account_session').column('certificate_serial').execute()

  // Back-channel logouts owed to institutions, written in the transaction that ended the logins
  // and deleted once delivered: a crash between the two loses none (delivery is retried).
  await db.schema
    .createTable('logout_notice')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('subscriber_id', 'text', (c) => c.notNull())
    .addColumn('sid', 'text', (c) => c.notNull())
    .addColumn('certificate_serial', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('logout_notice_due_idx').on('logout_notice').column('next_attempt_at').execute()
  // One pending notice per session at an institution, however many rows of it a change ended.
  await db.schema.createIndex('logout_notice_session_idx').on('logout_notice').columns(['client_id', 'sid']).unique().execute()
}
