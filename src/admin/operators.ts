import { createHash, randomBytes, randomUUID } from 'node:crypto'
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type AuthenticatorTransport, type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import type { AuditLog } from '../audit/audit-log.ts'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import type { Actor } from './auth.ts'
import { consoleOff, invitationInvalid, operatorExists, operatorNotFound, passkeyRefused } from './errors.ts'

/** An invitation link works this long (hours). */
export const INVITATION_HOURS = 24
/** A console session ends this long after its sign-in (seconds), whatever happens. */
export const CONSOLE_SESSION_SECONDS = 8 * 3600
/** ... or after this long without a request (seconds). */
export const CONSOLE_IDLE_SECONDS = 30 * 60
/** A passkey has this long to answer a challenge (seconds). */
const CHALLENGE_SECONDS = 5 * 60
/** last_seen_at is written at most this often (ms): not one write per page. */
const SEEN_EVERY_MS = 60_000

/** An operator as the admin API and the console list them. */
export interface OperatorView {
  name: string
  invited_by: string
  created_at: string
  passkeys: number
  /** Waiting for a passkey: the invitation's end. */
  invitation_expires_at: string | null
  disabled_at: string | null
  last_sign_in_at: string | null
}

/** The person behind a console session. */
export interface ConsoleOperator {
  sessionId: string
  operatorId: string
  name: string
  /** What the admin routes write into the audit log. */
  actor: Actor
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url')

/** The actor of an operator signed in to the console. */
export const operatorActor = (name: string): Actor => ({ id: `operator:${name}`, clientId: undefined })

/** Operator names: what the audit log shows after `operator:`. */
export const OPERATOR_NAME = /^[a-z][a-z0-9._-]{1,31}$/

/**
 * The people who run PostCert and their way into the operator console. The server's CLI invites
 * one by name (a single-use link, valid a day); opening it registers a passkey, and from then on
 * the passkey alone signs them in (discoverable credential, user verification required). Every
 * challenge is single use and short-lived; a session lives 8 hours at most and 30 minutes idle;
 * disabling an operator ends their sessions. The tables operator, operator_passkey,
 * operator_session and operator_challenge are written here only.
 */
export class Operators {
  readonly #deps: { db: Database; clock: Clock; audit: AuditLog; origin: () => string | undefined; serviceName: string }

  constructor(deps: { db: Database; clock: Clock; audit: AuditLog; origin: () => string | undefined; serviceName: string }) {
    this.#deps = deps
  }

  /** The console's address, where invitations point (the passkeys' origin and RP id). */
  get origin(): string {
    const origin = this.#deps.origin()
    if (!origin) throw consoleOff()
    return origin
  }

  /**
   * A new operator, or a new link for one who has not registered a passkey yet (the first expired
   * or was lost). Returns the link's token: shown once, kept only as its hash.
   */
  async invite(name: string, actor: Actor): Promise<{ name: string; url: string; expiresAt: Date }> {
    const { db, clock, audit } = this.#deps
    const origin = this.origin
    const token = randomBytes(32).toString('base64url')
    const now = clock.now()
    const expiresAt = new Date(now.getTime() + INVITATION_HOURS * 3600_000)
    await db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('operator').select(['id', 'disabled_at']).where('name', '=', name).forUpdate().executeTakeFirst() // operator_name_key
      if (existing) {
        const passkeys = await trx.selectFrom('operator_passkey').select('credential_id').where('operator_id', '=', existing.id).limit(1).execute() // operator_passkey_operator_idx
        if (passkeys.length || existing.disabled_at) throw operatorExists(name)
        await trx.updateTable('operator').set({ invitation_hash: hash(token), invitation_expires_at: expiresAt }).where('id', '=', existing.id).execute() // primary key
      } else {
        const added = await trx.insertInto('operator').values({
          id: randomUUID(), name, invited_by: actor.id, created_at: now, invitation_hash: hash(token), invitation_expires_at: expiresAt, disabled_at: null,
        }).onConflict((oc) => oc.column('name').doNothing()).returning('id').executeTakeFirst()
        // Invited at the same moment by another call: that one's link stands.
        if (!added) throw operatorExists(name)
      }
      await audit.record(trx, { type: 'operator.operator_invited', data: { actor: actor.id, operator: name, expires_at: expiresAt.toISOString() } })
    })
    return { name, url: `${origin}/console/enroll#${token}`, expiresAt }
  }

  async list(): Promise<OperatorView[]> {
    const rows = await this.#deps.db.selectFrom('operator')
      .leftJoin('operator_passkey', 'operator_passkey.operator_id', 'operator.id')
      .select((eb) => [
        'operator.name', 'operator.invited_by', 'operator.created_at', 'operator.invitation_expires_at', 'operator.disabled_at',
        eb.fn.count<number>('operator_passkey.credential_id').as('passkeys'), eb.fn.max('operator_passkey.last_used_at').as('last_sign_in_at'),
      ])
      .groupBy(['operator.id', 'operator.name', 'operator.invited_by', 'operator.created_at', 'operator.invitation_expires_at', 'operator.disabled_at'])
      .orderBy('operator.name').execute() // a handful of rows
    const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null)
    return rows.map((r) => ({
      name: r.name, invited_by: r.invited_by, created_at: r.created_at.toISOString(), passkeys: Number(r.passkeys),
      invitation_expires_at: Number(r.passkeys) ? null : iso(r.invitation_expires_at), disabled_at: iso(r.disabled_at), last_sign_in_at: iso(r.last_sign_in_at),
    }))
  }

  /** Disables an operator: no sign-in, their sessions and any open invitation end now. */
  async disable(name: string, actor: Actor): Promise<OperatorView> {
    const { db, clock, audit } = this.#deps
    await db.transaction().execute(async (trx) => {
      const found = await trx.updateTable('operator').set({ disabled_at: clock.now(), invitation_hash: null, invitation_expires_at: null })
        .where('name', '=', name).where('disabled_at', 'is', null).returning('id').executeTakeFirst() // operator_name_key
      if (!found) {
        const exists = await trx.selectFrom('operator').select('id').where('name', '=', name).executeTakeFirst()
        if (!exists) throw operatorNotFound(name)
        return
      }
      const ended = await trx.deleteFrom('operator_session').where('operator_id', '=', found.id).executeTakeFirst() // operator_session_operator_idx
      await audit.record(trx, { type: 'operator.operator_disabled', data: { actor: actor.id, operator: name, sessions_ended: Number(ended.numDeletedRows) } })
    })
    return (await this.list()).find((o) => o.name === name)!
  }

  /** Registration options for the invited operator (the link's token names them). */
  async registrationOptions(invitation: string): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
    const operator = await this.#invited(invitation)
    const options = await generateRegistrationOptions({
      rpName: `${this.#deps.serviceName} operator console`, rpID: this.#rpID(),
      userID: new TextEncoder().encode(operator.id), userName: operator.name, userDisplayName: operator.name,
      attestationType: 'none', supportedAlgorithmIDs: [-7, -8, -257],
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      timeout: CHALLENGE_SECONDS * 1000,
    })
    return { challengeId: await this.#challenge(options.challenge, operator.id), options }
  }

  /**
   * Registers the invited operator's passkey and signs them in. Checks, in order:
   * 1. the challenge is live and was handed out for this operator (spent here, whatever follows);
   * 2. the invitation is still open (spent in the same transaction as the passkey is stored);
   * 3. the registration answers that challenge, on the console's origin and RP id, with user verification.
   */
  async register(invitation: string, challengeId: string, response: unknown): Promise<{ token: string; operator: ConsoleOperator }> {
    const challenge = await this.#spend(challengeId)
    const operator = await this.#invited(invitation)
    if (challenge.operator_id !== operator.id) throw passkeyRefused('this passkey was made for another invitation: open your link again')
    let verified
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON, expectedChallenge: challenge.challenge,
        expectedOrigin: this.origin, expectedRPID: this.#rpID(), requireUserVerification: true,
      })
    } catch (err) {
      throw passkeyRefused(`the passkey could not be registered: ${(err as Error).message}`)
    }
    if (!verified.verified) throw passkeyRefused('the passkey could not be registered')
    const { credential } = verified.registrationInfo
    const { db, clock, audit } = this.#deps
    return await db.transaction().execute(async (trx) => {
      const open = await trx.updateTable('operator').set({ invitation_hash: null, invitation_expires_at: null })
        .where('id', '=', operator.id).where('invitation_hash', '=', hash(invitation)).where('disabled_at', 'is', null)
        .returning('id').executeTakeFirst() // primary key
      if (!open) throw invitationInvalid()
      // A credential id already registered (another operator's, replayed) takes nothing over.
      const stored = await trx.insertInto('operator_passkey').values({
        credential_id: credential.id, operator_id: operator.id, public_key: credential.publicKey, counter: credential.counter,
        transports: JSON.stringify(credential.transports ?? []), created_at: clock.now(), last_used_at: clock.now(),
      }).onConflict((oc) => oc.column('credential_id').doNothing()).returning('credential_id').executeTakeFirst()
      if (!stored) throw passkeyRefused('this passkey is registered already')
      await audit.record(trx, { type: 'operator.operator_enrolled', data: { actor: operatorActor(operator.name).id, operator: operator.name } })
      return await this.#startSession(trx, operator)
    })
  }

  /** Sign-in options: no credential list (the passkey is discoverable, so the page names nobody). */
  async signInOptions(): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    const options = await generateAuthenticationOptions({ rpID: this.#rpID(), userVerification: 'required', timeout: CHALLENGE_SECONDS * 1000 })
    return { challengeId: await this.#challenge(options.challenge, null), options }
  }

  /**
   * Signs an operator in. Checks, in order:
   * 1. the challenge is live and was handed out for a sign-in (spent here, whatever follows);
   * 2. the credential is an operator's passkey, and that operator is not disabled;
   * 3. the assertion answers the challenge on the console's origin and RP id, with user verification, signed by that passkey;
   * 4. its counter moved on (a cloned authenticator shows an old one), unless the authenticator keeps none.
   */
  async signIn(challengeId: string, response: unknown): Promise<{ token: string; operator: ConsoleOperator }> {
    const challenge = await this.#spend(challengeId)
    if (challenge.operator_id !== null) throw passkeyRefused('this challenge was handed out to register a passkey, not to sign in')
    const credentialId = typeof (response as { id?: unknown } | null)?.id === 'string' ? (response as { id: string }).id : ''
    const { db, clock, audit } = this.#deps
    const passkey = await db.selectFrom('operator_passkey').innerJoin('operator', 'operator.id', 'operator_passkey.operator_id')
      .select(['operator_passkey.credential_id', 'operator_passkey.public_key', 'operator_passkey.counter', 'operator_passkey.transports', 'operator.id', 'operator.name', 'operator.disabled_at'])
      .where('operator_passkey.credential_id', '=', credentialId).executeTakeFirst() // primary key
    if (!passkey || passkey.disabled_at) throw passkeyRefused('this passkey is not an operator\'s (or the operator was disabled)')
    let verified
    try {
      verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON, expectedChallenge: challenge.challenge,
        expectedOrigin: this.origin, expectedRPID: this.#rpID(), requireUserVerification: true,
        credential: { id: passkey.credential_id, publicKey: new Uint8Array(passkey.public_key), counter: Number(passkey.counter), transports: JSON.parse(passkey.transports) as AuthenticatorTransport[] },
      })
    } catch (err) {
      throw passkeyRefused(`the passkey's answer did not verify: ${(err as Error).message}`)
    }
    if (!verified.verified) throw passkeyRefused('the passkey\'s answer did not verify')
    const counter = verified.authenticationInfo.newCounter
    return await db.transaction().execute(async (trx) => {
      // The counter moves on only forward: of two answers with the same counter (a clone's), one
      // gets through. An authenticator that keeps no counter (0) is not held to it.
      const moved = await trx.updateTable('operator_passkey').set({ counter, last_used_at: clock.now() })
        .where('credential_id', '=', passkey.credential_id).where((eb) => (counter > 0 ? eb('counter', '<', counter) : eb.val(true)))
        .executeTakeFirst() // primary key
      if (Number(moved.numUpdatedRows) !== 1) throw passkeyRefused('this passkey\'s counter did not move on: it may have been copied')
      await audit.record(trx, { type: 'operator.signed_in', data: { actor: operatorActor(passkey.name).id } })
      return await this.#startSession(trx, { id: passkey.id, name: passkey.name })
    })
  }

  /** The live session behind a cookie's token, its idle time restarted. */
  async session(token: string | undefined): Promise<ConsoleOperator | undefined> {
    if (!token || token.length > 128) return undefined
    const { db, clock } = this.#deps
    const now = clock.now()
    const row = await db.selectFrom('operator_session').innerJoin('operator', 'operator.id', 'operator_session.operator_id')
      .select(['operator_session.id', 'operator_session.last_seen_at', 'operator.id as operator_id', 'operator.name'])
      .where('operator_session.id', '=', hash(token)).where('operator_session.expires_at', '>', now)
      .where('operator_session.last_seen_at', '>', new Date(now.getTime() - CONSOLE_IDLE_SECONDS * 1000))
      .where('operator.disabled_at', 'is', null).executeTakeFirst() // primary keys
    if (!row) return undefined
    if (now.getTime() - row.last_seen_at.getTime() > SEEN_EVERY_MS) {
      await db.updateTable('operator_session').set({ last_seen_at: now }).where('id', '=', row.id).execute() // primary key
    }
    return { sessionId: row.id, operatorId: row.operator_id, name: row.name, actor: operatorActor(row.name) }
  }

  async signOut(token: string | undefined): Promise<void> {
    if (token) await this.#deps.db.deleteFrom('operator_session').where('id', '=', hash(token)).execute() // primary key
  }

  /** Deletes ended sessions and unanswered challenges (the background sweep). */
  async sweep(): Promise<number> {
    const now = this.#deps.clock.now()
    const idle = new Date(now.getTime() - CONSOLE_IDLE_SECONDS * 1000)
    const sessions = await this.#deps.db.deleteFrom('operator_session').where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', idle)])).executeTakeFirst() // operator_session_expires_idx (idle ones: a handful of rows)
    const challenges = await this.#deps.db.deleteFrom('operator_challenge').where('expires_at', '<=', now).executeTakeFirst() // operator_challenge_expires_idx
    return Number(sessions.numDeletedRows) + Number(challenges.numDeletedRows)
  }

  #rpID(): string {
    return new URL(this.origin).hostname
  }

  async #invited(invitation: string): Promise<{ id: string; name: string }> {
    if (typeof invitation !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(invitation)) throw invitationInvalid()
    const row = await this.#deps.db.selectFrom('operator').select(['id', 'name'])
      .where('invitation_hash', '=', hash(invitation)).where('invitation_expires_at', '>', this.#deps.clock.now()).where('disabled_at', 'is', null)
      .executeTakeFirst() // operator_invitation_hash_key
    if (!row) throw invitationInvalid()
    return row
  }

  async #challenge(challenge: string, operatorId: string | null): Promise<string> {
    const id = randomBytes(16).toString('base64url')
    await this.#deps.db.insertInto('operator_challenge').values({
      id, challenge, operator_id: operatorId, expires_at: new Date(this.#deps.clock.now().getTime() + CHALLENGE_SECONDS * 1000),
    }).execute()
    return id
  }

  /** Takes a challenge out (single use): two answers to one challenge get one session at most. */
  async #spend(challengeId: unknown): Promise<{ challenge: string; operator_id: string | null }> {
    if (typeof challengeId !== 'string' || challengeId.length > 64) throw passkeyRefused('no challenge was named: reload the page')
    const row = await this.#deps.db.deleteFrom('operator_challenge').where('id', '=', challengeId).where('expires_at', '>', this.#deps.clock.now())
      .returning(['challenge', 'operator_id']).executeTakeFirst() // primary key
    if (!row) throw passkeyRefused('the challenge expired or was used: reload the page and try again')
    return row
  }

  async #startSession(trx: DatabaseTransaction, operator: { id: string; name: string }): Promise<{ token: string; operator: ConsoleOperator }> {
    const token = randomBytes(32).toString('base64url')
    const sessionId = hash(token)
    const now = this.#deps.clock.now()
    await trx.insertInto('operator_session').values({
      id: sessionId, operator_id: operator.id, created_at: now, last_seen_at: now, expires_at: new Date(now.getTime() + CONSOLE_SESSION_SECONDS * 1000),
    }).execute()
    return { token, operator: { sessionId, operatorId: operator.id, name: operator.name, actor: operatorActor(operator.name) } }
  }
}
