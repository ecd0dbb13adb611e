import { randomBytes } from 'node:crypto'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import type { AuditLog } from '../audit/audit-log.ts'
import { singleStatus, type OcspResponder } from '../ca/ocsp.ts'
import type { Database } from '../db/database.ts'
import { es256Failure } from '../holders/jws-verify.ts'
import { parseSignatureJws } from '../holders/keyfile/signature-jws.ts'
import { assuranceOf, meets } from '../possession/assurance.ts'
import { acrNotMet, certificateRefused, challengeInvalid } from '../possession/errors.ts'
import type { PossessionProofs } from '../possession/proofs.ts'
import type { Clock } from '../util/clock.ts'
import { checkSignatureCms } from './cms-check.ts'
import { invalidSignature, notTheSubscriber } from './errors.ts'
import { canonicalJson, payloadSha256, signedDocuments, signingPayload, type SigningPayload } from './payload.ts'
import { thumbprint, type ReceiptSigner } from './receipt.ts'
import type { SignatureRequest } from './request.ts'

/** A payload's iat may be this far from our clock (the subscriber reads before signing). */
const IAT_SKEW_SECONDS = 5 * 60

export interface SigningDeps {
  db: Database
  clock: Clock
  issuer: string
  /** Single-use challenges bound to the interaction, the lock after failed proofs, passkey checks: shared with login. */
  possession: PossessionProofs
  ocsp: OcspResponder
  receipts: ReceiptSigner
  audit: AuditLog
  /** The issuing CA and root certificates (DER), packaged with passkey signatures. */
  caChain: () => Promise<Uint8Array[]>
}

/** What the signing page needs: the payload to sign and its canonical bytes (as text). */
export interface PreparedSignature {
  payload: SigningPayload
  canonical: string
}

/** One signature request being answered, as the interaction knows it. */
export interface SigningContext {
  interactionUid: string
  clientId: string
  /** The subscriber who logged in: only their own certificate may sign. */
  subscriberId: string
  /** The pairwise subject this client knows the subscriber by (for the receipt). */
  subject: string
  request: SignatureRequest
  /** The assurance level the institution asked for (acr_values or essential acr), if any: the signing holder must give it. */
  requiredAcr?: string
  /** The client address, against which failed signatures count (possession/proofs.ts). */
  source: string
}

export interface StoredSignature {
  id: string
  /** The signed bytes (canonical JSON). */
  payload: string
  receipt: string
  /** The subscriber's signature, as the receipt carries it. */
  signature: Record<string, unknown>
  payloadSha256: string
}

/**
 * Electronic signatures (전자서명) over an institution's signature request: prepares the payload,
 * checks the subscriber's signature, and archives it with PostCert's receipt.
 *
 * Throws SigningError or PossessionError (certificate refusals, challenge, lock).
 */
export class SigningService {
  readonly #deps: SigningDeps

  constructor(deps: SigningDeps) {
    this.#deps = deps
  }

  async prepare(context: Pick<SigningContext, 'interactionUid' | 'clientId' | 'request'>): Promise<PreparedSignature> {
    const nonce = this.#deps.possession.createChallenge(context.interactionUid)
    const payload = signingPayload(context.request, {
      iss: this.#deps.issuer, client_id: context.clientId, nonce, iat: Math.floor(this.#deps.clock.now().getTime() / 1000),
    })
    return { payload, canonical: canonicalJson(payload) }
  }

  /**
   * A certificate file's signature: a compact JWS over the payload bytes, and the same key's
   * detached CMS SignedData over them (base64 DER). Checks, in order:
   * 1. it is a signature JWS of our type with the signer's chain in x5c;
   * 2. the signer's certificate is ours and usable now (the verdict);
   * 3. it is the certificate of the subscriber who logged in;
   * 4. the certificate is not locked, and the payload's nonce is this interaction's unused challenge;
   * 5. the payload is exactly the canonical payload of this request, client and issuer;
   * 6. it was made recently; 7. ES256; 8. the JWS verifies with the certificate's key;
   * 9. the CMS is that certificate's signature of the same bytes, made recently (checkSignatureCms).
   * A signature that fails after 4 counts as a failed proof of possession.
   */
  async signWithFile(context: SigningContext, jws: string, cms: string): Promise<StoredSignature> {
    // As at login: a certificate file gives substantial, never more.
    if (!meets(assuranceOf('file').acr, context.requiredAcr)) throw acrNotMet()
    let parsed
    try {
      parsed = parseSignatureJws(jws)
    } catch (err) {
      throw invalidSignature((err as Error).message)
    }
    const certificate = await this.#deps.possession.usable(parsed.leaf)
    if (certificate.subscriberId !== context.subscriberId) throw notTheSubscriber()
    const payload = this.#payloadFor(context, parsed.payload)
    const { possession } = this.#deps
    const checked = await possession.attempt(payload.nonce, context.interactionUid, certificate.serial, context.source, async (used) => {
      // The signature first: only what the certificate's key signed may count against it (possession/proofs.ts).
      const key = possession.publicKeyOf(certificate.serial, certificate.der)
      const failure = await es256Failure(jws, key)
      if (failure) throw invalidSignature(failure)
      const fail = async (why: string) => {
        await possession.recordKeySignedFailure(certificate.serial)
        return invalidSignature(why)
      }
      if (payload.mismatch) throw await fail(payload.mismatch)
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(cms)) throw await fail('cms must be base64 DER')
      try {
        const signingTime = checkSignatureCms(Buffer.from(cms, 'base64'), parsed.payload, { der: certificate.der, publicKey: key })
        if (Math.abs(signingTime.getTime() - this.#deps.clock.now().getTime()) > IAT_SKEW_SECONDS * 1000) throw new Error('the CMS signingTime is too old or from the future')
      } catch (err) {
        throw await fail((err as Error).message)
      }
      if (!used) throw challengeInvalid()
      return payload.canonical
    })
    return await this.#archive(context, { serial: certificate.serial, der: certificate.der, holder: 'file' }, checked, { format: 'jws', jws, cms })
  }

  /**
   * A passkey's signature: a WebAuthn assertion whose challenge is the SHA-256 of the payload
   * bytes (sent beside it). Checks, in order:
   * 1. the payload is exactly the canonical payload of this request, with a recent iat;
   * 2. the credential is a registered passkey, its certificate ours and usable now (the verdict),
   *    and the subscriber's who logged in;
   * 3. the certificate is not locked, and the payload's nonce is this interaction's unused challenge;
   * 4. WebAuthn verification over that challenge, on our origin and RP id, with user verification.
   * The signature is kept with the certificate chain: the certificate binds the passkey's public
   * key, so anyone can check the assertion without PostCert.
   */
  async signWithPasskey(context: SigningContext, assertion: AuthenticationResponseJSON, payload: string): Promise<StoredSignature> {
    const { nonce, canonical, mismatch } = this.#payloadFor(context, Buffer.from(payload, 'utf8'))
    if (mismatch) throw invalidSignature(mismatch)
    const credential = await this.#deps.possession.findPasskey(assertion)
    if (!credential) throw invalidSignature('this passkey is not registered with PostCert')
    if (!meets(assuranceOf('passkey', credential.attested).acr, context.requiredAcr)) throw acrNotMet()
    const certificate = await this.#deps.possession.usable(credential.certificate_serial)
    if (certificate.subscriberId !== context.subscriberId) throw notTheSubscriber()
    const challenge = Buffer.from(await payloadSha256(new Uint8Array(Buffer.from(canonical, 'utf8')))).toString('base64url')
    await this.#deps.possession.attempt(nonce, context.interactionUid, certificate.serial, context.source, async (used) => {
      if (!used) throw challengeInvalid()
      const failed = await this.#deps.possession.checkAssertion(credential, assertion, challenge)
      if (failed) throw invalidSignature(failed)
    })
    const chain = [certificate.der, ...(await this.#deps.caChain())]
    return await this.#archive(context, { serial: certificate.serial, der: certificate.der, holder: 'passkey' }, canonical, {
      format: 'webauthn',
      credential_id: credential.id,
      authenticator_data: assertion.response.authenticatorData,
      client_data_json: assertion.response.clientDataJSON,
      signature: assertion.response.signature,
      x5c: chain.map((der) => Buffer.from(der).toString('base64')),
    })
  }

  /**
   * The payload as presented: its nonce, and the canonical payload this request, client and
   * issuer give with that nonce and iat. `mismatch` says why the presented bytes are not exactly
   * those, or were made too long ago. Throws invalidSignature when there is no nonce or iat to read.
   */
  #payloadFor(context: SigningContext, bytes: Uint8Array): { nonce: string; canonical: string; mismatch?: string } {
    let presented: Partial<SigningPayload> | null
    try {
      presented = JSON.parse(new TextDecoder().decode(bytes)) as Partial<SigningPayload> | null
    } catch {
      throw invalidSignature('the payload is not JSON')
    }
    if (typeof presented !== 'object' || presented === null || typeof presented.nonce !== 'string' || !Number.isSafeInteger(presented.iat)) {
      throw invalidSignature('the payload has no nonce or no iat in whole seconds')
    }
    const { nonce, iat } = presented as { nonce: string; iat: number }
    const canonical = canonicalJson(signingPayload(context.request, { iss: this.#deps.issuer, client_id: context.clientId, nonce, iat }))
    const mismatch = !Buffer.from(bytes).equals(Buffer.from(canonical, 'utf8')) ? 'the signed payload is not the one of this request'
      : Math.abs(iat - this.#deps.clock.now().getTime() / 1000) > IAT_SKEW_SECONDS ? 'too old or from the future' : undefined
    return { nonce, canonical, ...(mismatch ? { mismatch } : {}) }
  }

  /** The OCSP response of now, PostCert's receipt, and the row with its audit event in one transaction. */
  async #archive(context: SigningContext, signer: { serial: string; der: Uint8Array; holder: 'file' | 'passkey' }, canonical: string, signature: Record<string, unknown>): Promise<StoredSignature> {
    const { db, clock, issuer } = this.#deps
    const id = `sig_${randomBytes(16).toString('base64url')}`
    const signedAt = clock.now()
    const payloadSha256 = thumbprint(Buffer.from(canonical, 'utf8'))
    const ocsp = await this.#deps.ocsp.respondForSerial(signer.serial)
    // The verdict said good a moment ago; what is kept as evidence must say so too.
    if (singleStatus(ocsp) !== 'good') throw certificateRefused('revoked', 'the certificate was revoked or suspended while signing')
    const { receipt, key } = await this.#deps.receipts.sign({
      issuer, subject: context.subject, clientId: context.clientId, id, signedAt,
      content: {
        payload_sha256: payloadSha256,
        ...signedDocuments(context.request),
        ...(context.request.transaction ? { transaction: context.request.transaction } : {}),
        signer: { serial: signer.serial, 'x5t#S256': thumbprint(signer.der), holder: signer.holder },
        certificate_status: 'good', ocsp: ocsp.toString('base64'), signature,
      },
    })
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('signature').values({
        id, client_id: context.clientId, subscriber_id: context.subscriberId, certificate_serial: signer.serial, holder: signer.holder,
        request: JSON.stringify(context.request), payload: canonical, payload_sha256: payloadSha256,
        signature: JSON.stringify(signature), ocsp, receipt, signed_at: signedAt,
      }).execute()
      await trx.insertInto('receipt_key').values({ kid: key.kid, public_jwk: JSON.stringify(key), first_used_at: signedAt })
        .onConflict((oc) => oc.column('kid').doNothing()).execute()
      await this.#deps.audit.record(trx, { type: 'signature', subscriberId: context.subscriberId, certificateSerial: signer.serial, data: { client: context.clientId, signature: id, holder: signer.holder } })
    })
    return { id, payload: canonical, receipt, signature, payloadSha256 }
  }
}
