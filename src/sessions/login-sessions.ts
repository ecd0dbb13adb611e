import { createHash } from 'node:crypto'
import { sql, type CompiledQuery } from 'kysely'
import { TTL } from '../constants.ts'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'

/** How long a login session's certificate is remembered: as long as a registration (grant) lives. */
const LOGIN_SESSION_TTL_SECONDS = TTL.Grant

/** One login: the oidc-provider session it happened in and its auth_time (epoch seconds). */
export interface LoginRef {
  sessionUid: string
  authTime: number
}

/** The `certificate` claim: the certificate a login used. */
export interface CertificateClaim {
  /** Hex, as in the certificate and on /pki/certificates/{serial}. */
  serial: string
  /** base64url SHA-256 of the certificate's DER (RFC 7515 / RFC 8705 thumbprint). */
  'x5t#S256': string
  /** ISO 8601. */
  not_after: string
}

/**
 * The logins of the provider's sessions (login_session): which certificate each login used and
 * for which institution. This module alone writes the table: a login is remembered while its
 * certificate is good, read for the `certificate` claim and session reuse, ended by a status
 * change of its certificate (certificate-logins.ts), swept when it expires.
 */
export class LoginSessions {
  readonly #db: Database
  readonly #clock: Clock

  constructor(deps: { db: Database; clock: Clock }) {
    this.#db = deps.db
    this.#clock = deps.clock
  }

  /**
   * The statement that remembers the certificate of a login and the institution it was made for:
   * the session's uid and the login's auth_time are in every code and token made from it, so the
   * `certificate` claim names the certificate that login used, and the certificate's status
   * governs them (oidc/adapter.ts). Only while the certificate is good, read under a share lock: a
   * status change in progress holds the row and is waited for, so no login it ends is born after
   * it. An ended login is never revived. It returns a row when remembered, none when the
   * certificate is no longer good. The caller makes it, alone or with a read of its own in one
   * round trip (oidc/provider.ts, with the registration's grant).
   */
  rememberStatement(login: LoginRef, serial: string, clientId: string): CompiledQuery {
    const now = this.#clock.now()
    const expires = new Date(now.getTime() + LOGIN_SESSION_TTL_SECONDS * 1000)
    return sql<{ session_uid: string }>`
      insert into login_session (session_uid, auth_time, certificate_serial, client_id, expires_at)
      select ${login.sessionUid}, ${login.authTime}, c.serial, ${clientId}, ${expires}
      from certificate c where c.serial = ${serial} and c.status = 'good' and c.not_after > ${now}
      for share
      on conflict (session_uid, auth_time) do update set client_id = excluded.client_id, expires_at = excluded.expires_at
        where login_session.ended_at is null and login_session.certificate_serial = excluded.certificate_serial
      returning session_uid`.compile(this.#db) // certificate_pkey, login_session_pkey
  }

  /**
   * The institution a live login was made for (a session is reused only there), or undefined
   * when the login is unknown or ended.
   */
  async clientOf(login: LoginRef): Promise<string | undefined> {
    const row = await this.#db.selectFrom('login_session').select('client_id')
      .where('session_uid', '=', login.sessionUid).where('auth_time', '=', String(login.authTime)) // login_session_pkey
      .where('ended_at', 'is', null).where('expires_at', '>', this.#clock.now())
      .executeTakeFirst()
    return row?.client_id ?? undefined
  }

  /** The certificate a login used, for the `certificate` claim. */
  async certificateOf(login: LoginRef): Promise<CertificateClaim | undefined> {
    const row = await this.#db.selectFrom('login_session')
      .innerJoin('certificate', 'certificate.serial', 'login_session.certificate_serial')
      .select(['certificate.serial', 'certificate.der', 'certificate.not_after'])
      .where('login_session.session_uid', '=', login.sessionUid).where('login_session.auth_time', '=', String(login.authTime))
      .where('login_session.expires_at', '>', this.#clock.now())
      .executeTakeFirst()
    if (!row) return undefined
    return {
      serial: row.serial,
      'x5t#S256': createHash('sha256').update(row.der).digest('base64url'),
      not_after: row.not_after.toISOString(),
    }
  }

  /** Deletes expired logins (the background sweep). */
  async sweep(): Promise<number> {
    const result = await this.#db.deleteFrom('login_session').where('expires_at', '<=', this.#clock.now()).executeTakeFirst() // login_session_expires_idx
    return Number(result.numDeletedRows)
  }
}

/** A login a status change ended: the session it was made in, and for which institution. */
export interface EndedLogin {
  sessionUid: string
  clientId: string | null
  serial: string
}

/**
 * Ends the live logins of these certificates, in the status change's transaction, before their
 * rows are deleted: a row written for an ended login gets no certificate (oidc/adapter.ts). Each
 * login is ended once: of two transactions ending the same certificate, only one gets it back.
 */
export async function endLoginSessions(trx: Database, serials: string[], now: Date): Promise<EndedLogin[]> {
  if (!serials.length) return []
  const rows = await trx.updateTable('login_session').set({ ended_at: now })
    .where('certificate_serial', 'in', serials).where('ended_at', 'is', null) // login_session_certificate_idx
    .returning(['session_uid', 'client_id', 'certificate_serial']).execute()
  return rows.map((r) => ({ sessionUid: r.session_uid, clientId: r.client_id, serial: r.certificate_serial }))
}
