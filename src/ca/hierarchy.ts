import { createPrivateKey, webcrypto } from 'node:crypto'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { rewrapTable, type RewrapCount, type SealedBox } from '../keys/sealed-box.ts'
import type { Clock } from '../util/clock.ts'
import { ISSUING_VALIDITY_YEARS, ROOT_VALIDITY_YEARS } from './constants.ts'
import { pkcs11Signer, type Pkcs11Settings } from './pkcs11-signer.ts'
import { sealedSigner, type CaSigner } from './signer.ts'

export type TokenSettings = Omit<Pkcs11Settings, 'keyLabel'>
import { randomSerial, x509 } from './x509.ts'

const subtle = webcrypto.subtle

/** The CA that signs subscriber certificates, CRLs and OCSP responses, ready to use. */
export interface IssuingCa {
  id: string
  certificate: x509.X509Certificate
  /** Signs certificates, CRLs and OCSP responses; the key stays with its keeper. */
  signer: CaSigner
  root: x509.X509Certificate
}

export interface CaSummary {
  id: string
  role: 'root' | 'issuing'
  subject: string
  notBefore: Date
  notAfter: Date
  sha256Fingerprint: string
  hasPrivateKey: boolean
  /** The key's label on the PKCS#11 token, when it is there. */
  tokenKeyLabel: string | null
}

const ROOT_ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const
const ISSUING_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

/**
 * The root and issuing CA. Created at first start (once, even when instances start together)
 * unless the operator imported their own. Private keys are sealed with the master key and
 * opened only in memory; they are never logged, returned or published.
 */
export class CaHierarchy {
  readonly #db: Database
  readonly #box: SealedBox
  readonly #clock: Clock
  readonly #token: TokenSettings | undefined
  #loaded: IssuingCa | undefined
  #all: { id: string; role: string; certificate: x509.X509Certificate; active: boolean }[] | undefined
  #close: (() => void) | undefined

  /** `token`: the PKCS#11 token (PKCS11_*) for an issuing CA whose key is there. */
  constructor(db: Database, box: SealedBox, clock: Clock, token?: TokenSettings) {
    this.#db = db
    this.#box = box
    this.#clock = clock
    this.#token = token
  }

  /** Ends the token session, if the key is on a token. */
  close(): void {
    this.#close?.()
    this.#close = undefined
  }

  /** Creates the hierarchy if there is none. */
  async ensure(): Promise<void> {
    if (await this.#activeRow('issuing')) return
    const created = await this.#generate()
    await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('postcert-ca:' || current_schema()))`.execute(trx)
      const existing = await trx.selectFrom('ca_certificate').select('id').where('role', '=', 'issuing').where('active', '=', true).executeTakeFirst()
      if (existing) return
      await trx.insertInto('ca_certificate').values(created).execute()
    })
  }

  /** The active issuing CA with its key (cached after the first call). */
  async issuing(): Promise<IssuingCa> {
    if (this.#loaded) return this.#loaded
    const issuing = await this.#activeRow('issuing')
    const root = await this.#activeRow('root')
    if (!issuing || !root || (!issuing.sealed_key && !issuing.token_key_label)) throw new Error('the certificate authority is not set up (run the server once, or postcert ca import)')
    const certificate = new x509.X509Certificate(issuing.der)
    const signer = issuing.token_key_label ? await this.#tokenSigner(issuing.token_key_label, certificate)
      : sealedSigner(createPrivateKey({ key: this.#box.open(issuing.sealed_key!, keyContext(issuing.id)), format: 'der', type: 'pkcs8' }))
    this.#loaded = { id: issuing.id, certificate, signer, root: new x509.X509Certificate(root.der) }
    return this.#loaded
  }

  /** The token's signer for the key labelled `label`, which must be the certificate's. */
  async #tokenSigner(label: string, certificate: x509.X509Certificate): Promise<CaSigner> {
    if (!this.#token) throw new Error(`the issuing CA's key is on a PKCS#11 token (label ${label}): set PKCS11_LIBRARY, PKCS11_TOKEN_LABEL and PKCS11_PIN`)
    const signer = await pkcs11Signer({ ...this.#token, keyLabel: label })
    if (!Buffer.from(certificate.publicKey.rawData).equals(signer.publicKey.export({ format: 'der', type: 'spki' }))) {
      signer.close()
      throw new Error(`the key labelled ${label} on the token ${this.#token.tokenLabel} is not the issuing CA certificate's`)
    }
    this.#close = () => signer.close()
    return signer
  }

  /**
   * Every CA certificate PostCert has used, for chain building and verification. Read once per
   * process (every login asks): the set changes only by `postcert ca import`, after which
   * instances restart.
   */
  async all(): Promise<{ id: string; role: string; certificate: x509.X509Certificate; active: boolean }[]> {
    if (this.#all) return this.#all
    const rows = await this.#db.selectFrom('ca_certificate').select(['id', 'role', 'der', 'active']).execute()
    const all = rows.map((r) => ({ id: r.id, role: r.role, active: r.active, certificate: new x509.X509Certificate(r.der) }))
    if (rows.some((r) => r.role === 'issuing' && r.active)) this.#all = all
    return all
  }

  /** Re-seals the CA keys PostCert holds with the current master key. */
  async rewrap(): Promise<RewrapCount> {
    return await rewrapTable(this.#box, 'ca_certificate',
      async () => (await this.#db.selectFrom('ca_certificate').select(['id', 'sealed_key']).where('sealed_key', 'is not', null).execute()).map((r) => ({ id: r.id, sealed: r.sealed_key! })),
      (r) => r.sealed, (r) => keyContext(r.id),
      async (r, resealed) => (await this.#db.updateTable('ca_certificate').set({ sealed_key: resealed })
        .where('id', '=', r.id).where('sealed_key', '=', r.sealed).executeTakeFirst()).numUpdatedRows)
  }

  async summary(): Promise<CaSummary[]> {
    const rows = await this.#db.selectFrom('ca_certificate').selectAll().where('active', '=', true).orderBy('role', 'desc').execute()
    return await Promise.all(rows.map(async (r) => ({
      id: r.id, role: r.role, subject: r.subject, notBefore: r.not_before, notAfter: r.not_after,
      sha256Fingerprint: Buffer.from(await new x509.X509Certificate(r.der).getThumbprint('SHA-256')).toString('hex'),
      hasPrivateKey: r.sealed_key !== null,
      tokenKeyLabel: r.token_key_label,
    })))
  }

  async #activeRow(role: 'root' | 'issuing') {
    return await this.#db.selectFrom('ca_certificate').selectAll().where('role', '=', role).where('active', '=', true).executeTakeFirst()
  }

  async #generate() {
    const now = this.#clock.now()
    const years = (n: number) => new Date(Date.UTC(now.getUTCFullYear() + n, now.getUTCMonth(), now.getUTCDate()))
    const rootKeys = await subtle.generateKey(ROOT_ALG, true, ['sign', 'verify'])
    const issuingKeys = await subtle.generateKey(ISSUING_ALG, true, ['sign', 'verify'])
    const stamp = now.toISOString().slice(0, 10)
    const rootName = `C=KR, O=PostCert, CN=PostCert Root CA ${stamp}`
    const issuingName = `C=KR, O=PostCert, CN=PostCert Issuing CA ${stamp}`

    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(), name: rootName, notBefore: now, notAfter: years(ROOT_VALIDITY_YEARS),
      keys: rootKeys, signingAlgorithm: ROOT_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    })
    const issuing = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(), subject: issuingName, issuer: root.subject,
      notBefore: now, notAfter: years(ISSUING_VALIDITY_YEARS),
      publicKey: issuingKeys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: ROOT_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        // digitalSignature: the issuing CA signs OCSP responses itself.
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    })
    const issuingKey = Buffer.from(await subtle.exportKey('pkcs8', issuingKeys.privateKey))
    const rootKey = Buffer.from(await subtle.exportKey('pkcs8', rootKeys.privateKey))
    const rootId = `root-${root.serialNumber.slice(0, 16)}`
    const issuingId = `issuing-${issuing.serialNumber.slice(0, 16)}`
    const row = (id: string, role: 'root' | 'issuing', cert: x509.X509Certificate, key: Buffer) => ({
      id, role, der: new Uint8Array(cert.rawData), sealed_key: this.#box.seal(key, keyContext(id)),
      subject: cert.subject, not_before: cert.notBefore, not_after: cert.notAfter, active: true,
    })
    return [row(rootId, 'root', root, rootKey), row(issuingId, 'issuing', issuing, issuingKey)]
  }
}

const keyContext = (id: string) => `ca_certificate:${id}:key`
