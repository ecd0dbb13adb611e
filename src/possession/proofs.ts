import { createHash, createHmac, randomFillSync, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto'
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server'
import { sql } from 'kysely'
import type { CertificateRecord, CertificateRow } from '../ca/authority.ts'
import { serialOf, type Verdict } from '../ca/verdict.ts'
import { CLOCK_TOLERANCE_SECONDS } from '../constants.ts'
import type { Database } from '../db/database.ts'
import type { RequestRows } from '../db/request-rows.ts'
import { findPasskey, recordCounter, type PasskeyCredential } from '../holders/webauthn/credential-store.ts'
import type { Clock } from '../util/clock.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import { certificateLocked, certificateRefused, tooManyFailedProofs } from './errors.ts'

/** A login challenge must be answered within this time. */
const CHALLENGE_TTL_SECONDS = 5 * 60
/**
 * A challenge's bytes: its format's version, when it expires (seconds since the epoch), a random
 * nonce, then an HMAC-SHA256 under the server's challenge key of those and the interaction it is
 * for. Sent base64url, in that encoding only.
 */
const CHALLENGE_VERSION = 1
const CHALLENGE_BODY_BYTES = 1 + 4 + 16
const CHALLENGE_BYTES = CHALLENGE_BODY_BYTES + 32
const CHALLENGE_LENGTH = Math.ceil(CHALLENGE_BYTES * 4 / 3)
/**
 * Failed proofs for one certificate, per window, before it is locked until the window ends. Only
 * proofs its own key signed count (made for another login, or too old): a proof that does not
 * verify with the certificate's key proves nothing about its holder, and anyone can make one.
 */
const MAX_FAILURES = 5
/** Failed proofs from one client address, per window, before it is refused until the window ends. */
const MAX_SOURCE_FAILURES = 30
const FAILURE_WINDOW_SECONDS = 15 * 60
const LOCK_MINUTES = Math.ceil(FAILURE_WINDOW_SECONDS / 60)
/** Certificates whose parsed public key is kept (the oldest goes first). */
const PUBLIC_KEY_CACHE_SIZE = 10_000

export interface PossessionDeps {
  db: Database
  clock: Clock
  limiter: RateLimiter
  /** PUBLIC_URL's origin: passkeys are bound to its host name (the RP id) and origin. */
  issuer: string
  judge: (certificate: Uint8Array | string, at: Date) => Promise<Verdict>
  /** The same verdict on the certificate's row, read by a statement of this module's (ca/verdict.ts judgeRecorded). */
  judgeRecorded: (certificate: Uint8Array | string, serial: string, row: CertificateRow | undefined, at: Date) => Promise<Verdict>
  /** Where the attempt taken back goes with the request's next write (db/request-rows.ts). */
  requests?: RequestRows
  /** The HMAC key challenges are made with (a server secret: every instance has the same). */
  challengeKey: KeyObject
}

/** The certificate a proof names, as the attempt's statement read it under its serial (for usable). */
export interface RecordedCertificate {
  serial: string
  row: CertificateRow | undefined
}

/**
 * Proof of possession of a certificate's key, the security core that login and signing share:
 * single-use challenges bound to an interaction, the accounting of failed proofs (per certificate
 * and per client address) that locks a certificate or refuses an address, the check of a
 * passkey's assertion, the certificate's verdict, and its public key. What a login or a signature
 * proves beyond that is theirs (login/login-service.ts, signing/signing-service.ts).
 *
 * A challenge is made without the database: it carries its expiry and the MAC that binds it to
 * its interaction, so only this server's key makes one, and only for that login. It is recorded
 * as it is used (login_challenge: this module alone writes it), which makes it single-use; the
 * record is swept once the challenge has expired. So a login page, and a script asking for
 * challenges as fast as it can, write nothing.
 *
 * Throws PossessionError (errors.ts).
 */
export class PossessionProofs {
  readonly #deps: PossessionDeps
  readonly #rpID: string
  readonly #origin: string
  readonly #publicKeys = new BoundedMap<string, KeyObject>(PUBLIC_KEY_CACHE_SIZE)

  constructor(deps: PossessionDeps) {
    this.#deps = deps
    this.#rpID = new URL(deps.issuer).hostname
    this.#origin = new URL(deps.issuer).origin
  }

  /** A new single-use challenge for this interaction, good for CHALLENGE_TTL_SECONDS. */
  createChallenge(interactionUid: string): string {
    const body = Buffer.allocUnsafe(CHALLENGE_BODY_BYTES)
    body[0] = CHALLENGE_VERSION
    body.writeUInt32BE(Math.floor(this.#deps.clock.now().getTime() / 1000) + CHALLENGE_TTL_SECONDS, 1)
    randomFillSync(body, 5)
    return Buffer.concat([body, this.#challengeMac(body, interactionUid)]).toString('base64url')
  }

  /** WebAuthn request options for a passkey proof over `challenge` (discoverable credentials: no allow list). */
  passkeyOptions(challenge: string) {
    return { challenge, rpId: this.#rpID, userVerification: 'required' as const, timeout: 120_000 }
  }

  /** The registered passkey that made `assertion`, if any (webauthn_credential primary key). */
  async findPasskey(assertion: AuthenticationResponseJSON): Promise<PasskeyCredential | undefined> {
    // Credential ids are base64url: anything else (a NUL, which PostgreSQL text cannot hold) names no passkey.
    return typeof assertion?.id === 'string' && /^[A-Za-z0-9_-]{1,1024}$/.test(assertion.id)
      ? await findPasskey(this.#deps.db, assertion.id)
      : undefined
  }

  /**
   * WebAuthn verification of the passkey's assertion over `challenge`, on PostCert's origin and RP
   * id, with user verification; a success moves the signature counter on. Returns why it failed,
   * or undefined. A failure counts against the client address only (nothing in it need come from
   * the passkey: a credential id is no secret), as attempt does. Logins and signatures both use it.
   */
  async checkAssertion(credential: PasskeyCredential, assertion: AuthenticationResponseJSON, challenge: string): Promise<string | undefined> {
    let result
    try {
      result = await verifyAuthenticationResponse({
        response: assertion, expectedChallenge: challenge, expectedOrigin: this.#origin, expectedRPID: this.#rpID,
        credential: { id: credential.id, publicKey: new Uint8Array(credential.public_key), counter: Number(credential.counter) },
        requireUserVerification: true,
      })
    } catch (err) {
      return (err as Error).message
    }
    await recordCounter(this.#deps.db, credential.id, result.authenticationInfo.newCounter)
    return undefined
  }

  /**
   * The certificate's public key, parsed once per serial: the verdict has already matched the
   * DER byte for byte with the one recorded under that serial, which never changes.
   */
  publicKeyOf(serial: string, der: Uint8Array): KeyObject {
    let key = this.#publicKeys.get(serial)
    if (!key) {
      key = new X509Certificate(der).publicKey
      this.#publicKeys.set(serial, key)
    }
    return key
  }

  /**
   * The certificate's verdict now; certificateRefused unless it is ours, valid, not revoked or
   * suspended. On the row an attempt read with its challenge (`recorded`), or read here.
   */
  async usable(certificate: Uint8Array | string, recorded?: RecordedCertificate): Promise<CertificateRecord> {
    const now = this.#deps.clock.now()
    const verdict = recorded ? await this.#deps.judgeRecorded(certificate, recorded.serial, recorded.row, now) : await this.#deps.judge(certificate, now)
    if (!verdict.valid) throw certificateRefused(verdict.reason, verdict.message)
    return verdict.certificate
  }

  /** The serial of a certificate (DER) or of a serial, canonical; certificateRefused when the DER does not parse. */
  serialOf(certificate: Uint8Array | string): string {
    const serial = serialOf(certificate)
    if (serial === undefined) throw certificateRefused('malformed', 'not a DER X.509 certificate')
    return serial
  }

  /**
   * One proof of possession (a login or a signature), checked by `check`. Before anything is
   * evaluated, in one statement: the challenge is used up (single use, and only for the
   * interaction it was made for: `check` gets whether it was one), and the attempt is counted
   * against the client address; the certificate's row is read too, for `check`'s verdict
   * (usable). Then a certificate locked by its own failed proofs is refused
   * (certificateLocked), and so is an address past its failed proofs of any certificate
   * (tooManyFailedProofs). An attempt that `check` completes is taken back from the address's
   * count; one that throws stays counted. Counting first and deciding on the count is what keeps
   * parallel attempts from all being evaluated against a count none of them has raised yet.
   */
  async attempt<T>(challenge: string, interactionUid: string, serial: string, source: string, check: (used: boolean, recorded: RecordedCertificate) => Promise<T>): Promise<T> {
    const { used, failures, sourceFailures, row } = await this.#useChallenge(challenge, interactionUid, serial, source)
    if (failures >= MAX_FAILURES) throw certificateLocked(LOCK_MINUTES)
    if (sourceFailures > MAX_SOURCE_FAILURES) throw tooManyFailedProofs(LOCK_MINUTES)
    const result = await check(used, { serial, row })
    // With the request's next write (the login's result, the signature): a count, nothing to wait for.
    await this.#deps.limiter.undo(`proof-fail:${source}`, FAILURE_WINDOW_SECONDS, this.#deps.requests)
    return result
  }

  /**
   * A failed proof the certificate's own key signed (made for another login, or too old): it
   * counts against the certificate too, and enough of those lock it for a while. Only whoever
   * holds the key can make one.
   */
  async recordKeySignedFailure(serial: string): Promise<void> {
    await this.#deps.limiter.hit(`login-fail:${serial}`, MAX_FAILURES, FAILURE_WINDOW_SECONDS)
  }

  /**
   * The challenge used up (recorded, if it is one of this interaction's and has not expired), the
   * certificate's failed proofs in this window, the address's count with this attempt added, and
   * the certificate's row, in one round trip.
   */
  async #useChallenge(challenge: string, interactionUid: string, serial: string, source: string): Promise<{ used: boolean; failures: number; sourceFailures: number; row: CertificateRow | undefined }> {
    const expires = this.#challengeExpiry(challenge, interactionUid)
    const failures = this.#deps.limiter.countExpression(`login-fail:${serial}`, FAILURE_WINDOW_SECONDS)
    const charge = this.#deps.limiter.hitExpression(`proof-fail:${source}`, FAILURE_WINDOW_SECONDS)
    const { rows: [row] } = await sql<{ used: boolean; failures: number; source_failures: number; found: boolean } & CertificateRow>`
      with used as (
        insert into login_challenge (hash, interaction_uid, expires_at)
        select ${expires ? hash(challenge) : ''}, ${interactionUid}, ${expires ?? this.#deps.clock.now()} where ${expires !== undefined}::boolean
        on conflict (hash) do nothing
        returning 1
      ), charged as (${charge})
      select exists (select 1 from used) as used, ${failures} as failures, (select count from charged) as source_failures,
        c.serial is not null as found, c.*
      from (select 1) as one left join certificate c on c.serial = ${serial}`.execute(this.#deps.db) // login_challenge_pkey, rate_limit_pkey, certificate_pkey
    const { used, failures: failed, source_failures: sourceFailures, found, ...certificate } = row!
    return { used, failures: Number(failed), sourceFailures: Number(sourceFailures), row: found ? certificate : undefined }
  }

  /**
   * When a challenge made here for this interaction expires; undefined when it is not one
   * (another login's, altered, made under another key, in another encoding) or has expired.
   */
  #challengeExpiry(challenge: string, interactionUid: string): Date | undefined {
    if (typeof challenge !== 'string' || challenge.length !== CHALLENGE_LENGTH) return undefined
    const bytes = Buffer.from(challenge, 'base64url')
    if (bytes.length !== CHALLENGE_BYTES || bytes[0] !== CHALLENGE_VERSION || bytes.toString('base64url') !== challenge) return undefined
    const body = bytes.subarray(0, CHALLENGE_BODY_BYTES)
    if (!timingSafeEqual(bytes.subarray(CHALLENGE_BODY_BYTES), this.#challengeMac(body, interactionUid))) return undefined
    const expires = new Date(body.readUInt32BE(1) * 1000)
    return expires > this.#deps.clock.now() ? expires : undefined
  }

  /** The MAC of a challenge's body for an interaction (its uid, then the body, whose length is fixed). */
  #challengeMac(body: Uint8Array, interactionUid: string): Buffer {
    return createHmac('sha256', this.#deps.challengeKey).update('postcert login challenge\0').update(interactionUid).update('\0').update(body).digest()
  }

  /**
   * Deletes the records of challenges expired for longer than the clocks of two instances may
   * differ, so that none can be used again where it has not yet expired (the background sweep).
   */
  async sweep(): Promise<number> {
    const expired = new Date(this.#deps.clock.now().getTime() - CLOCK_TOLERANCE_SECONDS * 1000)
    const result = await this.#deps.db.deleteFrom('login_challenge').where('expires_at', '<=', expired).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

const hash = (challenge: string) => createHash('sha256').update(challenge).digest('hex')
