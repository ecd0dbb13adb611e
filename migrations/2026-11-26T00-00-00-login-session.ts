import type { Kysely } from 'kysely'

// Frozen in time: which certificate a login session used, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // The certificate of each login in an oidc-provider session: the session's uid and the login's
  // auth_time travel with the codes and tokens made from it; for the `certificate` claim.
  await db.schema
    .createTable('login_session')
    .addColumn('session_uid', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('login_session_pkey', ['session_uid', 'auth_time'])
    .execute()
  await db.schema.createIndex('login_session_expires_idx').on('login_session').column('expires_at').execute()
}
