import { createPrivateKey, createPublicKey, verify, webcrypto } from 'node:crypto'
import { sql } from 'kysely'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import { invalidRequest } from '../errors/errors.ts'
import type { SealedBox } from '../keys/sealed-box.ts'
import type { TokenSettings } from './hierarchy.ts'
import { Pkcs11Error, pkcs11Signer } from './pkcs11-signer.ts'
import { x509 } from './x509.ts'

export type ImportInput = {
  /** PEM: the issuing CA certificate, then the root (self-signed). */
  chainPem: string
} & (
  /** PEM private key of the issuing CA (PKCS#8 or SEC1), P-256: sealed into the database. */
  | { keyPem: string }
  /** Or the label of its key on the PKCS#11 token, which keeps it. */
  | { tokenKeyLabel: string; token: TokenSettings | undefined }
)

/**
 * Replaces the generated hierarchy with the operator's own: the issuing CA with its key, and the
 * root certificate only (the root key stays offline). Refused once certificates have been issued,
 * since CRL and OCSP serve one issuing CA and a rollover would leave earlier certificates unserved.
 *
 * Throws InvalidRequestError with the reason for anything that does not fit.
 */
export async function importHierarchy(db: Database, box: SealedBox, input: ImportInput): Promise<{ issuingId: string; rootId: string }> {
  const { root, issuing, rootId, issuingId, key } = await prepare(box, input)
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('postcert-ca:' || current_schema()))`.execute(trx)
    await refuseIfIssued(trx)
    await trx.deleteFrom('crl').execute()
    await trx.updateTable('ca_certificate').set({ active: false }).where('active', '=', true).execute()
    await trx.deleteFrom('ca_certificate').where('id', 'in', [rootId, issuingId]).execute()
    await trx.insertInto('ca_certificate').values([
      { id: rootId, role: 'root', der: new Uint8Array(root.rawData), sealed_key: null, subject: root.subject, not_before: root.notBefore, not_after: root.notAfter, active: true },
      { id: issuingId, role: 'issuing', der: new Uint8Array(issuing.rawData), ...key, subject: issuing.subject, not_before: issuing.notBefore, not_after: issuing.notAfter, active: true },
    ]).execute()
  })
  return { issuingId, rootId }
}

/**
 * Checks an import without making it, as `importHierarchy` would (dual control asks for the import
 * first and makes it when a second operator approves, admin/approvals.ts, checking again then).
 */
export async function checkImport(db: Database, box: SealedBox, input: ImportInput): Promise<{ issuingSubject: string; issuingSha256: string }> {
  const { issuing } = await prepare(box, input)
  await refuseIfIssued(db)
  return { issuingSubject: issuing.subject, issuingSha256: Buffer.from(await issuing.getThumbprint('SHA-256')).toString('hex') }
}

/** An import is refused once certificates were issued: CRL and OCSP serve one issuing CA (no rollover). */
async function refuseIfIssued(db: Database | DatabaseTransaction): Promise<void> {
  const issued = await db.selectFrom('certificate').select('serial').limit(1).executeTakeFirst()
  if (issued) throw invalidRequest('certificates have already been issued under the current CA; importing another is not supported (no CA rollover)')
}

/** The chain and key checked, with the rows' ids and the key as stored (sealed, or the token's label). */
async function prepare(box: SealedBox, input: ImportInput) {
  const pems = input.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (pems.length !== 2) throw invalidRequest('the chain file must hold two certificates: the issuing CA, then the root')
  const [issuing, root] = pems.map((pem) => new x509.X509Certificate(pem)) as [x509.X509Certificate, x509.X509Certificate]

  if (!(await root.isSelfSigned())) throw invalidRequest('the second certificate is not a self-signed root')
  if (!(await issuing.verify({ publicKey: root.publicKey, signatureOnly: true }))) throw invalidRequest('the issuing CA is not signed by the root')
  const constraints = issuing.getExtension(x509.BasicConstraintsExtension)
  const usage = issuing.getExtension(x509.KeyUsagesExtension)
  if (!constraints?.ca) throw invalidRequest('the issuing certificate is not a CA (basicConstraints CA:TRUE)')
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
  if (!usage || (usage.usages & needed) !== needed) throw invalidRequest('the issuing CA needs keyUsage keyCertSign, cRLSign and digitalSignature (it signs OCSP responses)')

  const rootId = `root-${root.serialNumber.slice(0, 16)}`
  const issuingId = `issuing-${issuing.serialNumber.slice(0, 16)}`
  const key = 'keyPem' in input ? { sealed_key: box.seal(await sealableKey(input.keyPem, issuing), `ca_certificate:${issuingId}:key`), token_key_label: null }
    : { sealed_key: null, token_key_label: await tokenKey(input.tokenKeyLabel, input.token, issuing) }
  return { root, issuing, rootId, issuingId, key }
}

/** The PEM key, checked to be P-256 and the issuing certificate's, as PKCS#8 to seal. */
async function sealableKey(keyPem: string, issuing: x509.X509Certificate): Promise<Buffer> {
  let key
  try {
    key = createPrivateKey(keyPem)
  } catch {
    throw invalidRequest('the key file is not a PEM private key (PKCS#8 or EC)')
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw invalidRequest('the issuing CA key must be ECDSA P-256')
  const publicDer = createPublicKey(key).export({ format: 'der', type: 'spki' })
  if (!Buffer.from(issuing.publicKey.rawData).equals(publicDer)) throw invalidRequest('the key does not belong to the issuing CA certificate')
  // The key must also work where PostCert uses it (WebCrypto signing).
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' })
  await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return pkcs8
}

/** The token's key with this label, checked to be the issuing certificate's and to sign; only its label is kept. */
async function tokenKey(label: string, token: TokenSettings | undefined, issuing: x509.X509Certificate): Promise<string> {
  if (!token) throw invalidRequest('a key on a PKCS#11 token needs PKCS11_LIBRARY, PKCS11_TOKEN_LABEL and PKCS11_PIN')
  let signer
  try {
    signer = await pkcs11Signer({ ...token, keyLabel: label })
  } catch (err) {
    if (err instanceof Pkcs11Error) throw invalidRequest(err.message)
    throw err
  }
  try {
    if (!Buffer.from(issuing.publicKey.rawData).equals(signer.publicKey.export({ format: 'der', type: 'spki' }))) {
      throw invalidRequest(`the key labelled ${label} on the token is not the issuing CA certificate's`)
    }
    const probe = Buffer.from('postcert ca import')
    if (!verify('sha256', probe, signer.publicKey, await signer.sign(probe))) throw invalidRequest(`the token's key ${label} does not sign as its public key says`)
  } finally {
    signer.close()
  }
  return label
}
