import {
  generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { decodeAttestationObject } from '@simplewebauthn/server/helpers'
import { invalidPossessionProof } from '../../ca/errors.ts'
import type { PossessionProof } from '../../ca/possession.ts'
import type { Clock } from '../../util/clock.ts'
import type { AttestationTrust } from './attestation.ts'
import { coseToSpki } from './cose-to-spki.ts'

export interface RegisteredPasskey {
  credentialId: string
  publicKey: Uint8Array
  counter: number
  transports: string[]
  spki: Buffer
  proof: PossessionProof
  /** What its attestation showed: only an attested passkey is hardware-bound (loa:high). */
  attestation: { format: string; aaguid: string; attested: boolean; reason?: string }
}

/** ES256, EdDSA, RS256: what passkeys offer, in order of preference. */
const ALGORITHMS = [-7, -8, -257]

/**
 * Passkeys as certificate holders. Registration alone does not prove possession (with "none"
 * attestation nothing in it is signed by the new key), so enrollment asks for an assertion with
 * the new credential over the CA's challenge right after: that signature is the proof.
 * Registration asks for the authenticator's attestation ("direct"): when it chains to a root
 * PostCert trusts, the passkey is hardware-bound and gives the high assurance level.
 */
export class PasskeyRegistrar {
  readonly #rpID: string
  readonly #origin: string
  readonly #trust: AttestationTrust
  readonly #clock: Clock
  /** The service's name in the phone's passkey list (the operator's, in Korean). */
  readonly #serviceName: string

  constructor(issuer: string, trust: AttestationTrust, clock: Clock, serviceName: string) {
    const url = new URL(issuer)
    this.#rpID = url.hostname
    this.#origin = url.origin
    this.#trust = trust
    this.#clock = clock
    this.#serviceName = serviceName
  }

  /**
   * Registration options for a new passkey. The phone's passkey list shows the service by its
   * Korean name and the person as `label` (a masked name and phone), never an internal id.
   */
  async options(user: { id: string; name: string; label: string }, exclude: string[]): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return await generateRegistrationOptions({
      rpName: this.#serviceName, rpID: this.#rpID,
      userID: new TextEncoder().encode(user.id), userName: user.label, userDisplayName: user.name,
      attestationType: 'direct', supportedAlgorithmIDs: ALGORITHMS,
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      excludeCredentials: exclude.map((id) => ({ id })),
      timeout: 120_000,
    })
  }

  /**
   * Checks, in order:
   * 1. the registration answers our registration challenge, on our origin and RP id, with user verification;
   * 2. the assertion comes from the credential just registered;
   * 3. the assertion answers the CA's challenge, on our origin, with user verification, signed by that credential;
   * then what the attestation shows of the device (attestation.ts): that decides the level, not whether it is issued.
   */
  async verify(input: { registrationChallenge: string; registration: unknown; assertion: unknown; caChallenge: Buffer }): Promise<RegisteredPasskey> {
    let registered
    try {
      registered = await verifyRegistrationResponse({
        response: input.registration as RegistrationResponseJSON,
        expectedChallenge: input.registrationChallenge, expectedOrigin: this.#origin, expectedRPID: this.#rpID,
        requireUserVerification: true,
      })
    } catch (err) {
      throw invalidPossessionProof(`the passkey registration is not valid: ${(err as Error).message}`)
    }
    if (!registered.verified) throw invalidPossessionProof('the passkey registration did not verify')
    const credential = registered.registrationInfo.credential

    const assertion = input.assertion as AuthenticationResponseJSON
    if (assertion?.id !== credential.id) throw invalidPossessionProof('the assertion is not from the registered passkey')
    let asserted
    try {
      asserted = await verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: input.caChallenge.toString('base64url'), expectedOrigin: this.#origin, expectedRPID: this.#rpID,
        credential: { id: credential.id, publicKey: credential.publicKey, counter: credential.counter },
        requireUserVerification: true,
      })
    } catch (err) {
      throw invalidPossessionProof(`the passkey assertion is not valid: ${(err as Error).message}`)
    }
    if (!asserted.verified) throw invalidPossessionProof('the passkey assertion did not verify')

    const b = (text: string) => Buffer.from(text, 'base64url')
    const { fmt, aaguid, attestationObject } = registered.registrationInfo
    const x5c = (decodeAttestationObject(attestationObject).get('attStmt').get('x5c') as Uint8Array[] | undefined) ?? []
    const verdict = this.#trust.judge({ fmt, aaguid, x5c }, this.#clock.now())
    return {
      attestation: { format: fmt, aaguid, attested: verdict.attested, ...(verdict.reason ? { reason: verdict.reason } : {}) },
      credentialId: credential.id,
      publicKey: credential.publicKey,
      counter: asserted.authenticationInfo.newCounter,
      transports: credential.transports ?? [],
      spki: coseToSpki(credential.publicKey),
      proof: {
        type: 'webauthn', challenge: input.caChallenge,
        authenticatorData: b(assertion.response.authenticatorData), clientDataJSON: b(assertion.response.clientDataJSON),
        signature: b(assertion.response.signature),
      },
    }
  }
}
