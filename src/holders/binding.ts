import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server'
import type { CertificateAuthority, CertificateRecord, IssueRequest } from '../ca/authority.ts'
import { invalidPossessionProof } from '../ca/errors.ts'
import type { CaHierarchy } from '../ca/hierarchy.ts'
import { toPem } from '../ca/x509.ts'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { passkeyIdsOf, savePasskey } from './webauthn/credential-store.ts'
import type { PasskeyRegistrar } from './webauthn/passkeys.ts'

/** A new holder bound to the certificate about to be issued: what the CA's issue request needs of it. */
export type BoundHolder = Pick<IssueRequest, 'holder' | 'attested' | 'spki' | 'proof' | 'alsoInTransaction'>

/** What the page's script keeps of a certificate issued to a certificate file's key (the file it saves). */
export interface IssuedFile {
  serial: string
  name: string
  certificate: string
  chain: string
  not_after: string
  next: string
}

/**
 * Binding a new holder to a certificate about to be issued, the same for enrollment and the
 * portal (renewal, another device): passkey registration options (the subscriber's passkeys
 * excluded) with the CA challenge the new key signs next, the verified registration and
 * assertion, the credential kept in the issuance's transaction; a certificate file's key by its
 * signature over the CA challenge; the file's contents once issued.
 *
 * Throws InvalidPossessionProofError (passkey options not asked for; a proof that does not hold).
 */
export class HolderBinding {
  readonly #deps: { db: Database; clock: Clock; passkeys: PasskeyRegistrar; authority: CertificateAuthority; hierarchy: CaHierarchy }

  constructor(deps: { db: Database; clock: Clock; passkeys: PasskeyRegistrar; authority: CertificateAuthority; hierarchy: CaHierarchy }) {
    this.#deps = deps
  }

  /** Registration options for a new passkey of the subscriber; `remember` keeps its challenge with the caller's state. */
  async passkeyOptions(subscriber: { id: string; name: string; label: string }, remember: (registrationChallenge: string) => Promise<void>): Promise<{ registration: PublicKeyCredentialCreationOptionsJSON; challenge: Buffer }> {
    const registration = await this.#deps.passkeys.options(subscriber, await passkeyIdsOf(this.#deps.db, subscriber.id))
    await remember(registration.challenge)
    return { registration, challenge: await this.#deps.authority.createChallenge() }
  }

  /** A new passkey: its registration (over the remembered challenge), then its assertion over the CA challenge. */
  async passkey(registrationChallenge: string | null, input: { registration: unknown; assertion: unknown; challenge: Buffer }): Promise<BoundHolder> {
    if (!registrationChallenge) throw invalidPossessionProof('ask for passkey options first')
    const passkey = await this.#deps.passkeys.verify({ registrationChallenge, registration: input.registration, assertion: input.assertion, caChallenge: input.challenge })
    return {
      holder: 'passkey', attested: passkey.attestation.attested, spki: passkey.spki, proof: passkey.proof,
      alsoInTransaction: async (trx, certificate) => savePasskey(trx, passkey, certificate, this.#deps.clock.now()),
    }
  }

  /** A certificate file's key the browser made, which signed the CA challenge. */
  file(input: { spki: Buffer; signature: Buffer; challenge: Buffer }): BoundHolder {
    return { holder: 'file', spki: input.spki, proof: { type: 'signature', challenge: input.challenge, signature: input.signature } }
  }

  /** The certificate file's contents the page saves: the certificate, the CA chain, where to go next. */
  async issuedFile(certificate: CertificateRecord, name: string, next: string): Promise<IssuedFile> {
    const ca = await this.#deps.hierarchy.issuing()
    return {
      serial: certificate.serial, name, certificate: toPem(certificate.der, 'CERTIFICATE'),
      chain: toPem(ca.certificate.rawData, 'CERTIFICATE') + toPem(ca.root.rawData, 'CERTIFICATE'),
      not_after: certificate.notAfter.toISOString(), next,
    }
  }
}
