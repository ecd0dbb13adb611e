import type { Kysely } from 'kysely'

// Frozen in time: what a passkey's attestation showed, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // The attestation format and authenticator model (AAGUID) of each passkey, and whether its
  // attestation chained to a trusted root: only then is it hardware-bound (loa:high). Passkeys
  // registered before asked for no attestation ('none'): substantial.
  await db.schema.alterTable('webauthn_credential').addColumn('attestation_format', 'text', (c) => c.notNull().defaultTo('none')).execute()
  await db.schema.alterTable('webauthn_credential').addColumn('aaguid', 'text').execute()
  await db.schema.alterTable('webauthn_credential').addColumn('attested', 'boolean', (c) => c.notNull().defaultTo(false)).execute()
  // A certificate's passkey (its level, the holders that meet a level) by the certificate.
  await db.schema.createIndex('webauthn_credential_certificate_idx').on('webauthn_credential').column('certificate_serial').execute()
}
