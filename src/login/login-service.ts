import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import type { Database } from '../db/database.ts'
import { es256Failure } from '../holders/jws-verify.ts'
import { parseLoginProof } from '../holders/keyfile/login-proof.ts'
import { ACR_SUBSTANTIAL, assuranceOf, meets } from '../possession/assurance.ts'
import { challengeInvalid, invalidProof } from '../possession/errors.ts'
import type { PossessionProofs } from '../possession/proofs.ts'
import type { Clock } from '../util/clock.ts'

/** A proof's iat may be this far from our clock. */
const IAT_SKEW_SECONDS = 5 * 60

export interface LoginResult {
  subscriberId: string
  serial: string
  holder: 'passkey' | 'file'
  acr: string
  amr: string[]
  notAfter: Date
}

export interface LoginDeps {
  db: Database
  clock: Clock
  issuer: string
  /** Challenges, failure accounting, passkey checks and the certificate verdict (shared with signing). */
  possession: PossessionProofs
}

/**
 * Certificate login: a single-use challenge bound to the interaction (possession/), answered by
 * a JWS from a certificate file or a WebAuthn assertion from a passkey, then the certificate
 * verdict (ours, valid now, not revoked or suspended), and the assurance level it gives.
 *
 * Throws PossessionError (possession/errors.ts).
 */
export class LoginService {
  readonly #deps: LoginDeps

  constructor(deps: LoginDeps) {
    this.#deps = deps
  }

  /** A new single-use challenge for this login (possession/proofs.ts): nothing is written. */
  createChallenge(interactionUid: string): string {
    return this.#deps.possession.createChallenge(interactionUid)
  }

  /** WebAuthn request options for a passkey login over `challenge`. */
  passkeyOptions(challenge: string) {
    return this.#deps.possession.passkeyOptions(challenge)
  }

  /**
   * Checks, in order:
   * 1. the proof is a compact JWS of our type with a certificate in x5c;
   * 2. the certificate is not locked after repeated failures, nor the address;
   * 3. the certificate is ours and usable now (the verdict);
   * 4. the signature verifies with the certificate's key;
   * 5. it was made for this issuer, this interaction, and recently;
   * 6. its challenge was issued for this interaction and is used now, once.
   * The challenge is used up (6) in the same statement that reads the lock (2), counts the
   * attempt and reads the certificate for its verdict (3) (possession.attempt), so a proof that
   * fails any check has spent it too: every attempt needs a new challenge.
   */
  async verifyFileProof(interactionUid: string, jws: string, source: string): Promise<LoginResult> {
    let proof
    try {
      proof = parseLoginProof(jws)
    } catch (err) {
      throw invalidProof((err as Error).message)
    }
    const serial = this.#deps.possession.serialOf(proof.leaf)
    return await this.#deps.possession.attempt(proof.claims.challenge, interactionUid, serial, source, async (used, recorded) => {
      const certificate = await this.#deps.possession.usable(proof.leaf, recorded)
      const now = this.#deps.clock.now()
      const { claims } = proof
      // The signature first: only a proof the certificate's key signed may count against it.
      const publicKey = this.#deps.possession.publicKeyOf(certificate.serial, certificate.der)
      const failure = await es256Failure(jws, publicKey)
      if (failure) throw invalidProof(failure)
      const fail = async (why: string) => {
        await this.#deps.possession.recordKeySignedFailure(certificate.serial)
        return invalidProof(why)
      }
      if (claims.aud !== this.#deps.issuer) throw await fail('made for another issuer')
      if (claims.interaction !== interactionUid) throw await fail('made for another login')
      if (Math.abs(claims.iat - now.getTime() / 1000) > IAT_SKEW_SECONDS) throw await fail('too old or from the future')
      if (!used) throw challengeInvalid()
      return { subscriberId: certificate.subscriberId, serial: certificate.serial, holder: 'file', notAfter: certificate.notAfter, ...assuranceOf('file') }
    })
  }

  /**
   * Checks: the credential is a registered passkey; the assertion's challenge was issued for this
   * interaction (used once, in the statement that also reads the certificate bound to the
   * passkey); WebAuthn verification on our origin and RP id with user verification; then the
   * verdict on that certificate.
   */
  async verifyPasskey(interactionUid: string, assertion: AuthenticationResponseJSON, source: string): Promise<LoginResult> {
    let signed: unknown
    try {
      signed = (JSON.parse(Buffer.from(assertion.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge
    } catch {
      throw invalidProof('clientDataJSON is not readable')
    }
    const credential = await this.#deps.possession.findPasskey(assertion)
    if (!credential) throw invalidProof('this passkey is not registered with PostCert')
    if (typeof signed !== 'string') throw challengeInvalid()
    const challenge = signed
    return await this.#deps.possession.attempt(challenge, interactionUid, this.#deps.possession.serialOf(credential.certificate_serial), source, async (used, recorded) => {
      if (!used) throw challengeInvalid()
      const failed = await this.#deps.possession.checkAssertion(credential, assertion, challenge)
      if (failed) throw invalidProof(failed)
      const certificate = await this.#deps.possession.usable(credential.certificate_serial, recorded)
      return { subscriberId: certificate.subscriberId, serial: certificate.serial, holder: 'passkey', notAfter: certificate.notAfter, ...assuranceOf('passkey', credential.attested) }
    })
  }

  /**
   * Whether the subscriber holds a certificate in use whose holder gives `acr` (a login at that
   * level is possible at all): certificate files and passkeys give substantial, attested passkeys high.
   */
  async canMeet(subscriberId: string, acr: string): Promise<boolean> {
    if (meets(ACR_SUBSTANTIAL, acr)) return true
    const now = this.#deps.clock.now()
    const row = await this.#deps.db.selectFrom('certificate').innerJoin('webauthn_credential', 'webauthn_credential.certificate_serial', 'certificate.serial')
      .select('certificate.serial')
      .where('certificate.subscriber_id', '=', subscriberId).where('certificate.status', '=', 'good').where('certificate.not_after', '>', now)
      .where('webauthn_credential.attested', '=', true) // certificate_subscriber_idx
      .executeTakeFirst()
    return Boolean(row)
  }
}
