import { sql, type Kysely } from 'kysely'

// Frozen in time: this file describes the schema as it was on this date. Never edit it; add a
// new migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // oidc-provider models: tokens, codes, sessions, grants, interactions, clients, ...
  await db.schema
    .createTable('oidc_payload')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    // JSON as text, not jsonb: jsonb refuses a \u0000 escape, which request parameters may carry.
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('uid', 'text')
    .addColumn('user_code', 'text')
    .addColumn('sealed_id', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('consumed_at', 'timestamptz')
    // The primary key is also what makes replay detection atomic across instances.
    .addPrimaryKeyConstraint('oidc_payload_pkey', ['model', 'id'])
    .execute()
  await db.schema.createIndex('oidc_payload_grant_idx').on('oidc_payload').columns(['model', 'grant_id'])
    .where(sql.ref('grant_id'), 'is not', null).execute()
  await db.schema.createIndex('oidc_payload_uid_idx').on('oidc_payload').columns(['model', 'uid'])
    .where(sql.ref('uid'), 'is not', null).execute()
  await db.schema.createIndex('oidc_payload_user_code_idx').on('oidc_payload').columns(['model', 'user_code'])
    .where(sql.ref('user_code'), 'is not', null).execute()
  await db.schema.createIndex('oidc_payload_expires_idx').on('oidc_payload').column('expires_at')
    .where(sql.ref('expires_at'), 'is not', null).execute()

  await db.schema
    .createTable('signing_key')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('kty', 'text', (c) => c.notNull().check(sql`kty in ('EC', 'RSA')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('next', 'active', 'retired')`))
    .addColumn('sealed_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('activated_at', 'timestamptz')
    .addColumn('retired_at', 'timestamptz')
    .addColumn('publish_until', 'timestamptz')
    .execute()
  // At most one active and one next key per key type, so racing first starts cannot create two.
  await db.schema.createIndex('signing_key_one_active').on('signing_key').column('kty').unique()
    .where(sql.ref('state'), '=', 'active').execute()
  await db.schema.createIndex('signing_key_one_next').on('signing_key').column('kty').unique()
    .where(sql.ref('state'), '=', 'next').execute()

  await db.schema
    .createTable('server_secret')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('sealed_value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
}
