import type { JWK } from 'jose'
import type { CaHierarchy } from '../ca/hierarchy.ts'
import type { Database } from '../db/database.ts'
import { publicJwk, type SigningKeyStore } from '../keys/signing-keys.ts'
import type { TrustAnchors } from './verify.ts'

/** Every key that ever signed a receipt (receipt_key), oldest first. */
export async function receiptKeys(db: Database): Promise<JWK[]> {
  const rows = await db.selectFrom('receipt_key').select('public_jwk').orderBy('first_used_at').execute()
  return rows.map((r) => JSON.parse(r.public_jwk) as JWK)
}

/** What PostCert's own verifiers trust: its CA certificates, its published keys and every receipt key. */
export async function trustAnchors(deps: { db: Database; ca: CaHierarchy; signingKeys: SigningKeyStore }): Promise<TrustAnchors> {
  const published = (await deps.signingKeys.publishedJwks()).map(publicJwk) as JWK[]
  const kept = await receiptKeys(deps.db)
  return {
    caCertificates: (await deps.ca.all()).map((ca) => new Uint8Array(ca.certificate.rawData)),
    receiptKeys: [...published, ...kept.filter((k) => !published.some((p) => p.kid === k.kid))],
  }
}
