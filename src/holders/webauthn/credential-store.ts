import type { Selectable } from 'kysely'
import type { CertificateRecord } from '../../ca/authority.ts'
import type { Database } from '../../db/database.ts'
import type { WebauthnCredentialTable } from '../../db/schema/webauthn-credential.ts'
import type { RegisteredPasskey } from './passkeys.ts'

/** A registered passkey: its credential id, COSE public key, signature counter and the certificate issued to it. */
export type PasskeyCredential = Selectable<WebauthnCredentialTable>

// The webauthn_credential table: written here alone (a passkey registered with its certificate,
// its counter moved on by each assertion), read by the login and the portal.

/** Keeps a registered passkey with the certificate issued to it, in the issuance's transaction. */
export async function savePasskey(trx: Database, passkey: RegisteredPasskey, certificate: CertificateRecord, now: Date): Promise<void> {
  await trx.insertInto('webauthn_credential').values({
    id: passkey.credentialId, subscriber_id: certificate.subscriberId, certificate_serial: certificate.serial,
    public_key: passkey.publicKey, counter: passkey.counter, transports: JSON.stringify(passkey.transports), created_at: now,
    attestation_format: passkey.attestation.format, aaguid: passkey.attestation.aaguid, attested: passkey.attestation.attested,
  }).execute()
}

/** Whether the passkey holding this certificate was attested (false for a certificate file). */
export async function isAttested(db: Database, serial: string): Promise<boolean> {
  const row = await db.selectFrom('webauthn_credential').select('attested').where('certificate_serial', '=', serial).executeTakeFirst()
  return row?.attested ?? false
}

/** The passkey of this credential id (base64url), if one is registered (primary key). */
export async function findPasskey(db: Database, credentialId: string): Promise<PasskeyCredential | undefined> {
  return await db.selectFrom('webauthn_credential').selectAll().where('id', '=', credentialId).executeTakeFirst()
}

/** Moves the signature counter on after a verified assertion (primary key). */
export async function recordCounter(db: Database, credentialId: string, counter: number): Promise<void> {
  await db.updateTable('webauthn_credential').set({ counter }).where('id', '=', credentialId).execute()
}

/** The credential ids of the subscriber's passkeys (excluded when registering another). */
export async function passkeyIdsOf(db: Database, subscriberId: string): Promise<string[]> {
  const rows = await db.selectFrom('webauthn_credential').select('id').where('subscriber_id', '=', subscriberId).execute() // webauthn_credential_subscriber_idx
  return rows.map((r) => r.id)
}
