import { createHash } from 'node:crypto'
import { CompiledQuery, sql } from 'kysely'
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider'
import type { Database } from '../db/database.ts'
import { rewrapTable, type RewrapCount, type SealedBox } from '../keys/sealed-box.ts'
import type { Clock } from '../util/clock.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import type { TtlCache } from '../util/ttl-cache.ts'
import type { ChangeNotices } from '../db/change-notices.ts'
import { GroupedUpserts, type GroupedStatement, type GroupedWrite, type WrittenRow } from './grouped-upserts.ts'
import type { HotTokens } from './hot-tokens.ts'
import { LOOKED_UP_TOGETHER, TokenLookup } from './token-lookup.ts'
import { shiftParameters, withWritesAlong, type AlongWrite, type HeldConsumption, type RequestRows } from '../db/request-rows.ts'

/** Every model oidc-provider persists; the contract tests run against each one. */
export const OIDC_MODELS = [
  'Grant', 'Session', 'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'ClientCredentials', 'Client', 'InitialAccessToken', 'RegistrationAccessToken', 'Interaction',
  'ReplayDetection', 'PushedAuthorizationRequest', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
] as const

/** Models found by a secondary key, which therefore keep their (sealed) plain id. */
const SEALED_ID_MODELS = new Set(['Session', 'DeviceCode'])
/** Sealed ids each adapter remembers, each way (the oldest goes first). */
const SEALED_ID_MEMO_SIZE = 10_000

/**
 * How long a replay-detection id stays reserved before oidc-provider saves it with its real
 * expiry (milliseconds later). If the process dies in between, the id stays refused: fail closed.
 */
const REPLAY_RESERVATION_SECONDS = 600
/** How long a running instance may use a client's metadata without reading it again (another process's change shows within this). */
export const CLIENT_CACHE_SECONDS = 10

export interface AdapterDeps {
  db: Database
  box: SealedBox
  clock: Clock
  /**
   * Clients are read on almost every request and change rarely (the operator's CLI), so the
   * provider's adapters keep each client found for CLIENT_CACHE_SECONDS, secret unsealed.
   */
  clientCache?: TtlCache<AdapterPayload>
  /** Where a client's change is announced to every instance's cache (db/change-notices.ts). */
  changes?: ChangeNotices
  /** What a request read ahead or held back, for its own later statements (see RequestRows). */
  requests?: RequestRows
  /** One statement for a token looked up as several kinds at once (token-lookup.ts). */
  tokens?: TokenLookup
  /** Service tokens introspection found, kept for a second (hot-tokens.ts). */
  hotTokens?: HotTokens
  /** Token writes of concurrent requests, grouped into one statement (grouped-upserts.ts). */
  upserts?: GroupedUpserts
  /** The same for the tokens of concurrent code exchanges and rotations, each with its consumption (grouped-upserts.ts). */
  exchanges?: GroupedUpserts
}

/** A stored row as find() reads it. */
export interface StoredRow {
  payload: string
  consumed_at: Date | null
  /** False when the certificate of the row's login is no longer good (see USABLE); rows of no login are usable. */
  usable?: boolean
  /** Of a row found by uid or user code: its storage key and sealed plain id. */
  id?: string
  sealed_id?: string | null
}

/** A token's row as its find reads it: with its grant (GRANT_OF) and its session (SESSION_OF), null when none is live. */
export interface TokenRow extends StoredRow {
  grant_key?: string | null
  grant_payload?: string | null
  grant_consumed_at?: Date | null
  session_key?: string | null
  session_uid?: string | null
  session_payload?: string | null
  session_consumed_at?: Date | null
  session_sealed_id?: string | null
  session_usable?: boolean | null
}

/** Used once: consumed conditionally, a lost race is a reuse (see consume). */
const SINGLE_USE_MODELS = new Set(['AuthorizationCode', 'RefreshToken'])

/** Models whose row is a credential an institution redeems or uses: never written for a login that ended. */
const TOKEN_MODELS = new Set(['AuthorizationCode', 'AccessToken', 'RefreshToken'])
/**
 * For a consumed code or refresh token, the token written first from it, which is held for the
 * one that may follow (PostgresAdapter upsert): a rotation writes the refresh token before its
 * access token, a code exchange the access token before its refresh token.
 */
const HELD_FIRST: Readonly<Record<string, string>> = { RefreshToken: 'RefreshToken', AuthorizationCode: 'AccessToken' }

/** Models whose writes, when they carry nothing held, go with other requests' (GroupedUpserts). */
const GROUPED_MODELS = new Set([...TOKEN_MODELS, 'ClientCredentials'])

/**
 * Models whose rows belong to a certificate login, and where that login is named: a session by
 * its uid and loginTs, codes and refresh tokens by sessionUid and authTime, access tokens by
 * sessionUid and the auth_time oidc/provider.ts puts in `extra`; an interaction once its login
 * step is done names the certificate itself.
 */
export type LoginBinding = { serial: string } | { sessionUid: string; authTime: number | null }

export function loginBinding(model: string, payload: AdapterPayload): LoginBinding | undefined {
  type Login = { login?: { certificateSerial?: unknown } }
  const p = payload as Record<string, unknown> & { result?: Login; lastSubmission?: Login; extra?: { auth_time?: unknown } }
  const time = (value: unknown) => (typeof value === 'number' ? value : null)
  switch (model) {
    case 'Interaction': {
      // The login step's result, or (a registration or signing page after it) the last submission.
      const serial = p.result?.login?.certificateSerial ?? p.lastSubmission?.login?.certificateSerial
      return typeof serial === 'string' ? { serial } : undefined
    }
    case 'Session':
      return typeof p.accountId === 'string' && typeof p.uid === 'string' ? { sessionUid: p.uid, authTime: time(p.loginTs) } : undefined
    case 'AuthorizationCode':
    case 'RefreshToken':
      return typeof p.sessionUid === 'string' ? { sessionUid: p.sessionUid, authTime: time(p.authTime) } : undefined
    case 'AccessToken':
      return typeof p.sessionUid === 'string' ? { sessionUid: p.sessionUid, authTime: time(p.extra?.auth_time) } : undefined
    default:
      return undefined
  }
}

/**
 * How an id is stored: clients by their id, everything else as its SHA-256 (base64url). The
 * database computes the same with storageKeySql (a test holds the two together).
 */
export function storageKey(model: string, id: string): string {
  return model === 'Client' ? id : createHash('sha256').update(id).digest('base64url')
}

/** storageKey of a non-client id held in a text column, computed by the database. */
export const storageKeySql = (column: string) =>
  `rtrim(translate(encode(sha256(convert_to(${column}, 'UTF8')), 'base64'), '+/', '-_'), '=')`

/**
 * oidc-provider storage in PostgreSQL (or PGlite): one table, keyed by (model, id).
 *
 * - Ids of everything but clients are stored as their SHA-256: most are bearer secrets (token
 *   values, session cookies), so a copy of the table does not hand out usable tokens.
 * - Client secrets are sealed with the master key.
 * - Rows past `expires_at` are never returned; the sweeper deletes them later.
 * - ReplayDetection `find` atomically reserves the id (see `#claim`), making the
 *   find-then-save of oidc-provider's `unique()` safe across instances.
 * - A certificate's status governs what its logins opened: each row of a login (loginBinding)
 *   is stored with that login's certificate, and find never returns one whose certificate is
 *   revoked, suspended or expired (so the token endpoint answers invalid_grant, userinfo 401,
 *   introspection inactive, /auth a login page), on every instance at once. A status change
 *   also deletes them (deleteByCertificate).
 */
export class PostgresAdapter implements Adapter {
  readonly #model: string
  readonly #deps: AdapterDeps
  readonly #sealedIds = new BoundedMap<string, string>(SEALED_ID_MEMO_SIZE)
  readonly #openedIds = new BoundedMap<string, string>(SEALED_ID_MEMO_SIZE)

  constructor(model: string, deps: AdapterDeps) {
    this.#model = model
    this.#deps = deps
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const { db, box, clock } = this.#deps
    const key = this.#key(id)
    const stored: Record<string, unknown> = { ...payload }
    if (this.#model === 'Client') {
      if (typeof stored.client_secret === 'string') {
        stored.sealed_client_secret = box.seal(stored.client_secret, clientSecretContext(id))
        delete stored.client_secret
      }
    } else {
      delete stored.jti
    }
    const binding = loginBinding(this.#model, payload)
    const row = {
      payload: JSON.stringify(stored),
      grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
      uid: typeof payload.uid === 'string' ? payload.uid : null,
      user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
      sealed_id: SEALED_ID_MODELS.has(this.#model) ? this.#sealId(id, key) : null,
      expires_at: expiresIn ? new Date(clock.now().getTime() + expiresIn * 1000) : null,
    }
    const values = [
      this.#model, key, row.payload, row.grant_id, row.uid, row.user_code, row.sealed_id, row.expires_at,
      binding && 'serial' in binding ? binding.serial : null,
      binding && 'sessionUid' in binding ? binding.sessionUid : null,
      binding && 'sessionUid' in binding ? binding.authTime : null,
    ]
    // The code or refresh token this token comes from is consumed in the same statement: none is
    // written unless this request's consumption is the one that succeeds (see consume). So are the
    // request's writes along (RequestRows), in the same transaction. A replay id (a DPoP proof's,
    // between the consumption and the token) is a row of its own, and carries neither.
    const { consumed, along, pending } = this.#model === 'ReplayDetection' ? NOTHING_HELD : await this.#beforeWrite({ merge: TOKEN_MODELS.has(this.#model), carry: true, adds: !GROUPED_MODELS.has(this.#model) })
    this.#deps.requests?.takeDeleted(this.#model, key)
    // A code waits for the session its authorization saves as the request ends (RequestRows
    // sessionSaved), before the redirect that carries it is sent: both in one statement.
    if (this.#model === 'AuthorizationCode' && !consumed && along.length === 0 && this.#deps.requests?.sessionSaved && this.#deps.requests.holdRow(values)) return
    // The first token of a consumption waits for the one oidc-provider may write next, so that
    // both go in the one statement that consumes: a rotated refresh token's replacement for the
    // access token (refresh_token.js), an exchanged code's access token for the refresh token
    // (grant_common.js issueTokens). Held with the consumption, it is made by that write, or
    // before any other, or when the request ends (settleRequest), before the answer is sent.
    if (consumed && along.length === 0 && HELD_FIRST[consumed.model] === this.#model
      && this.#deps.requests?.hold({ ...consumed, rows: [...(consumed.rows ?? []).filter((r) => r[0] !== this.#model || r[1] !== key), values] })) return
    // A token carrying nothing else goes with the tokens other requests write at the same time, and
    // so do the tokens of an exchange or a rotation, each write with its own consumption.
    const grouped = along.length > 0 ? undefined : consumed ? this.#deps.exchanges : GROUPED_MODELS.has(this.#model) ? this.#deps.upserts : undefined
    let rows: WrittenRow[]
    if (grouped) {
      rows = await grouped.write(consumed ? consumptionWrite(consumed, values) : { rows: [values] })
    } else {
      const statement = consumed ? withWritesAlong(...onConsumption(consumed, values), along)
        : withWritesAlong(upsertRows(1 + pending.length), [values, ...pending].flat(), along)
      rows = (await db.executeQuery<WrittenRow>(CompiledQuery.raw(statement.sql, statement.parameters))).rows
    }
    for (const write of along) write.done?.()
    if (consumed && rows.length === 0) await reused(this.#deps.db, consumed.model, consumed.key)
    // A code or token of a login its certificate's status change ended while this request ran (it
    // read the code or refresh token just before): refused here, rather than answered unusable.
    refuseEndedTokens(rows)
    if (this.#model === 'Client') await this.#clientChanged(id)
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // A client id is kept as given, and PostgreSQL text holds no NUL: such an id names nothing.
    if (this.#model === 'Client' && id.includes('\u0000')) return undefined
    if (this.#model === 'ReplayDetection') return await this.#claim(id)
    const cache = this.#model === 'Client' ? this.#deps.clientCache : undefined
    const cached = cache?.get(id)
    if (cached) return cached
    const key = this.#key(id)
    const { requests } = this.#deps
    const tokens = LOOKED_UP_TOGETHER.has(this.#model) ? this.#deps.tokens : undefined
    const hot = requests?.introspecting ? this.#deps.hotTokens : undefined
    const row: TokenRow | undefined = requests?.take<StoredRow>(this.#model, key) ?? (tokens ? await tokens.find(this.#model, key, hot) : (await this.#deps.db.executeQuery<TokenRow>(
      CompiledQuery.raw(this.#findStatement(key), [this.#model, key, this.#deps.clock.now()]))).rows[0]) // served by the primary key
    if (!row || row.usable === false) return undefined
    // oidc-provider finds a token's session (when bound to it) and grant next: the token
    // endpoint, userinfo and introspection.
    if (row.grant_key && row.grant_payload) requests?.give('Grant', row.grant_key, { payload: row.grant_payload, consumed_at: row.grant_consumed_at ?? null })
    if (row.session_uid && row.session_key && row.session_payload) {
      requests?.give('Session', `uid:${row.session_uid}`, {
        id: row.session_key, payload: row.session_payload, consumed_at: row.session_consumed_at ?? null, sealed_id: row.session_sealed_id ?? null, usable: row.session_usable ?? false,
      })
    }
    const found = this.#restore(row.payload, row.consumed_at, id)
    cache?.set(id, found)
    return found
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return await this.#findBy('uid', uid) // oidc_payload_uid_idx
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return await this.#findBy('user_code', userCode) // oidc_payload_user_code_idx
  }

  /**
   * Marks a row consumed. Codes and refresh tokens are single use: oidc-provider reads one,
   * checks it is not consumed, and consumes it, so two requests at once would both pass its
   * check. Here the consumption is conditional (one statement): the request that finds it
   * already consumed lost a race with another use, which is a reuse, and is treated as one
   * (RFC 9700 section 4.10.1, as oidc-provider does for a later reuse): every token of the grant
   * and the grant itself are revoked, and invalid_grant is answered.
   *
   * A code or refresh token consumed within a request is an exchange or a rotation:
   * oidc-provider writes its tokens next. The consumption is held (RequestRows) and made in the
   * statement that writes them (upsert: HELD_FIRST), with the same race rule; a request that
   * writes something else first makes it before that write, and one that ends with it still held
   * makes it then (settleRequest).
   */
  async consume(id: string): Promise<void> {
    const key = this.#key(id)
    const consumption = { model: this.#model, key, at: this.#deps.clock.now() }
    if (SINGLE_USE_MODELS.has(this.#model) && this.#deps.requests?.hold(consumption)) return
    await this.#beforeWrite()
    if (!SINGLE_USE_MODELS.has(this.#model)) {
      await this.#deps.db.executeQuery(CompiledQuery.raw(SQL.consume, [consumption.at, this.#model, key]))
      return
    }
    await makeConsumption(this.#deps.db, consumption)
  }

  /**
   * Marks a row consumed unless it already is; true for exactly one of any callers racing on it.
   * (oidc-provider's own consume() is unconditional: it checks `consumed` on what it read.)
   */
  async consumeOnce(id: string): Promise<boolean> {
    await this.#beforeWrite()
    const { rows } = await this.#deps.db.executeQuery(CompiledQuery.raw(SQL.consumeOnce, [this.#deps.clock.now(), this.#model, this.#key(id)]))
    return rows.length === 1
  }

  async destroy(id: string): Promise<void> {
    const key = this.#key(id)
    if (this.#deps.requests?.takeDeleted(this.#model, key)) return
    await this.#beforeWrite()
    await this.#deps.db.executeQuery(CompiledQuery.raw(SQL.destroy, [this.#model, key]))
    if (this.#model === 'Client') await this.#clientChanged(id)
    // A revoked service token is no longer answered from any instance's memory (hot-tokens.ts).
    if (this.#model === 'ClientCredentials') await this.#deps.changes?.announce(this.#deps.db, 'token', key)
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (!grantId) return // never an unfiltered delete
    await this.#beforeWrite()
    await this.#deps.db.deleteFrom('oidc_payload')
      .where('model', '=', this.#model).where('grant_id', '=', grantId) // oidc_payload_grant_idx
      .execute()
  }

  /** A client was written or deleted: no instance goes on using what it cached of it. */
  async #clientChanged(id: string): Promise<void> {
    this.#deps.clientCache?.delete(id)
    await this.#deps.changes?.announce(this.#deps.db, 'client', id)
  }

  /**
   * Before any write of a request: what it read ahead is dropped (a find after the write reads
   * the database), and what it held is made first, unless this write makes it in its own
   * statement, which is then returned: its writes along when it `carry`s them, and a held
   * consumption when it `merge`s it (the write is of the token the consumed code or token gives),
   * and held rows (a code) when it `adds` them to its own.
   */
  async #beforeWrite(options: { merge?: boolean; carry?: boolean; adds?: boolean } = {}): Promise<Held> {
    const { requests } = this.#deps
    if (!requests?.active) return NOTHING_HELD
    requests.wrote()
    const along = requests.releaseAlong()
    if (!options.carry) await makeWritesAlong(this.#deps.db, along)
    const consumed = requests.release()
    if (consumed && !options.merge) await makeConsumption(this.#deps.db, consumed)
    const pending = requests.releaseRows()
    if (!options.adds) await makeRows(this.#deps.db, pending)
    return { consumed: options.merge ? consumed : undefined, along: options.carry ? along : [], pending: options.adds ? pending : [] }
  }

  /**
   * How a row is found by its key: a token with its grant and session; an interaction in a
   * resume, which destroys it next, deleted as it is read.
   */
  #findStatement(key: string): string {
    if (TOKEN_MODELS.has(this.#model)) return SQL.findToken
    if (this.#model === 'Interaction' && this.#deps.requests?.resuming) {
      this.#deps.requests.deleted(this.#model, key)
      return SQL.findToDestroy
    }
    return SQL.find
  }

  async #findBy(column: 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    if (!value || value.includes('\u0000')) return undefined
    const row = (column === 'uid' ? this.#deps.requests?.take<StoredRow>(this.#model, `uid:${value}`) : undefined) ?? (await this.#deps.db.executeQuery<StoredRow>(
      CompiledQuery.raw(column === 'uid' ? SQL.findByUid : SQL.findByUserCode, [this.#model, value, this.#deps.clock.now()]))).rows[0]
    if (!row?.id || !row.sealed_id || !row.usable) return undefined
    return this.#restore(row.payload, row.consumed_at, this.#openId(row.id, row.sealed_id))
  }

  /**
   * oidc-provider's ReplayDetection.unique() calls find(id) and, when nothing is found, saves
   * the id. Two instances doing that at once would both accept the same jti. Here find inserts
   * a reservation first: exactly one caller inserts (and is told "not found"); every other caller
   * finds the row and reports a replay. The later save then sets the real expiry.
   */
  async #claim(id: string): Promise<AdapterPayload | undefined> {
    const { db, clock } = this.#deps
    const now = clock.now()
    const key = this.#key(id)
    // One statement: a new id is inserted, an expired leftover taken over (it must not block a
    // legitimate new use of the same id), a live one left as it is: a replay.
    const { rows: [inserted] } = await db.executeQuery(CompiledQuery.raw(SQL.claim, [this.#model, key, now, new Date(now.getTime() + REPLAY_RESERVATION_SECONDS * 1000)]))
    return inserted ? undefined : { jti: id, reserved: true }
  }

  #restore(payload: string, consumedAt: Date | null, id: string): AdapterPayload {
    const restored = JSON.parse(payload) as Record<string, unknown>
    if (this.#model === 'Client') {
      if (typeof restored.sealed_client_secret === 'string') {
        restored.client_secret = this.#deps.box.openText(restored.sealed_client_secret, clientSecretContext(id))
        delete restored.sealed_client_secret
      }
    } else {
      restored.jti = id
    }
    if (consumedAt) restored.consumed = Math.floor(consumedAt.getTime() / 1000)
    return restored
  }

  /**
   * Sealed ids, remembered both ways: a session is saved again on every authorization request in
   * its browser and found by uid at every token and userinfo request, and each seal or open is an
   * AES-GCM operation. A sealed id opens only to its own id, so either memo stays true.
   */
  #sealId(id: string, key: string): string {
    const known = this.#sealedIds.get(key)
    if (known) return known
    const sealed = this.#deps.box.seal(id, sealedIdContext(this.#model, key))
    this.#sealedIds.set(key, sealed)
    this.#openedIds.set(`${key}:${sealed}`, id)
    return sealed
  }

  /** The id a row's sealed id opens to; remembered with the row it was sealed for, as the seal is bound to it. */
  #openId(key: string, sealed: string): string {
    let id = this.#openedIds.get(`${key}:${sealed}`)
    if (!id) {
      id = this.#deps.box.openText(sealed, sealedIdContext(this.#model, key))
      this.#openedIds.set(`${key}:${sealed}`, id)
    }
    return id
  }

  #key(id: string): string {
    return storageKey(this.#model, id)
  }
}

/**
 * The statements of the hot path, written out: these run several times in every login, and
 * building them with Kysely's query builder each time showed in the profile.
 * Rows past expires_at are never returned.
 */
const LIVE = '(p.expires_at is null or p.expires_at > $3)'
/**
 * A row of a login is usable while that login's certificate is good and unexpired ($3 is now).
 * '' (a login unknown or ended) matches no certificate and is never usable.
 */
const USABLE = `coalesce(p.certificate_serial is null or (c.status = 'good' and c.not_after > $3), false) as usable`
const GOVERNED = 'oidc_payload p left join certificate c on c.serial = p.certificate_serial' // certificate_pkey
/**
 * The certificate of a row's login: given (an interaction), or that of the live login its
 * session uid and auth_time name; '' when that login is unknown or was ended. (A row written
 * while a status change commits may still name the certificate: find refuses it while the
 * certificate is not good, and a resumption deletes such rows again: see certificate-logins.ts.)
 */
const CERTIFICATE_OF_LOGIN = `coalesce($9::text, case when $10::text is null then null else coalesce(
  (select ls.certificate_serial from login_session ls where ls.session_uid = $10::text and ls.auth_time = $11::bigint and ls.ended_at is null), '') end)`
/**
 * A token's grant, read with it: oidc-provider finds it next (RequestRows). Only a live grant of
 * no login (USABLE holds for it without the certificate join; grants never name one).
 */
const GRANT_OF = `left join oidc_payload g on g.model = 'Grant' and g.id = ${storageKeySql('p.grant_id')}
  and g.certificate_serial is null and (g.expires_at is null or g.expires_at > $3)` // oidc_payload_pkey
/**
 * The session a token is bound to (expiresWithSession), read with it, usable as USABLE says:
 * oidc-provider finds it by uid next (its checkSessionBinding). As findByUid reads it. A service
 * token (ClientCredentials) has none: the model is tested first, so its payload is not parsed.
 */
const SESSION_OF = `left join lateral (
    select s.id, s.uid, s.payload, s.consumed_at, s.sealed_id, coalesce(s.certificate_serial is null or (sc.status = 'good' and sc.not_after > $3), false) as usable
    from oidc_payload s left join certificate sc on sc.serial = s.certificate_serial
    where p.model <> 'ClientCredentials' and (p.payload::json ->> 'expiresWithSession') = 'true' and s.model = 'Session' and s.uid = p.payload::json ->> 'sessionUid'
      and (s.expires_at is null or s.expires_at > $3)
    limit 1) s on true` // oidc_payload_uid_idx
const TOKEN_COLUMNS = `g.id as grant_key, g.payload as grant_payload, g.consumed_at as grant_consumed_at,
  s.id as session_key, s.uid as session_uid, s.payload as session_payload, s.consumed_at as session_consumed_at, s.sealed_id as session_sealed_id, s.usable as session_usable`
const COLUMNS = '(model, id, payload, grant_id, uid, user_code, sealed_id, expires_at, certificate_serial)'
const ON_CONFLICT_SET = `on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
      user_code = excluded.user_code, sealed_id = excluded.sealed_id, expires_at = excluded.expires_at, certificate_serial = excluded.certificate_serial`
/** One row of an upsert: its parameters $1..$11 (model, key, payload, grant, uid, user code, sealed id, expiry, then the login's serial, session uid and auth time). */
const UPSERT_ROW = `($1, $2, $3, $4, $5, $6, $7, $8, ${CERTIFICATE_OF_LOGIN})`
const UPSERT_WIDTH = 11
/** A statement for a shape (a row count, the row counts of several writes), built the first time it is asked for and kept. */
function builtPerShape<Shape extends number | readonly number[]>(build: (shape: Shape) => string): (shape: Shape) => string {
  const built = new Map<string, string>()
  return (shape) => {
    const name = String(shape)
    let sql = built.get(name)
    if (sql === undefined) built.set(name, sql = build(shape))
    return sql
  }
}
/** `row` (an upsert row's text, $1..$11) n times, each renumbered to its place, joined by `separator`. */
const eachRow = (row: string, n: number, separator: string) => Array.from({ length: n }, (_, i) => shiftParameters(row, i * UPSERT_WIDTH)).join(separator)
/** The upsert of n rows (a write alone, with what it carries, or GroupedUpserts), their parameters one row after another. */
const upsertRows = builtPerShape((n: number) => `insert into oidc_payload ${COLUMNS} values
    ${eachRow(UPSERT_ROW, n, ',\n    ')}
    ${ON_CONFLICT_SET}
    returning model, id, certificate_serial`)
/** GroupedUpserts' statement for writes of token rows alone. */
const upsertStatement: GroupedStatement = (writes) => {
  const rows = writes.flatMap((write) => write.rows)
  return { sql: upsertRows(rows.length), parameters: rows.flat() }
}
/**
 * The upsert of the token rows of several exchanges or rotations, each write's rows made only if
 * its code or token is consumed now, by this statement: a write whose code or token another
 * request consumed first gets no row. `counts` is the number of rows of each write; the
 * parameters are each write's consumption (its time, model and key), then every row's, in order.
 */
const upsertRowsOnConsumptions = builtPerShape((counts: readonly number[]) => {
  const consumptions = counts.map((_, i) => `($${3 * i + 1}::timestamptz, $${3 * i + 2}::text, $${3 * i + 3}::text)`)
  let offset = 3 * counts.length
  const selects = counts.flatMap((n, i) => Array.from({ length: n }, () => {
    const row = shiftParameters(`select $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::timestamptz, ${CERTIFICATE_OF_LOGIN}`, offset)
    offset += UPSERT_WIDTH
    return `${row} from consumed where consumed.model = $${3 * i + 2} and consumed.id = $${3 * i + 3}`
  }))
  return `with c (at, model, id) as (values ${consumptions.join(', ')}),
    consumed as (update oidc_payload p set consumed_at = c.at from c where p.model = c.model and p.id = c.id and p.consumed_at is null returning p.model, p.id)
    insert into oidc_payload ${COLUMNS}
    ${selects.join('\n    union all ')}
    ${ON_CONFLICT_SET}
    returning model, id, certificate_serial`
})
/** GroupedUpserts' statement for writes that each come with a consumption; the writes with more rows first, so that few shapes recur. */
const exchangeStatement: GroupedStatement = (writes) => {
  const ordered = [...writes].sort((a, b) => b.rows.length - a.rows.length)
  return {
    sql: upsertRowsOnConsumptions(ordered.map((write) => write.rows.length)),
    parameters: [...ordered.flatMap((write) => [write.consumption!.at, write.consumption!.model, write.consumption!.key]), ...ordered.flatMap((write) => write.rows.flat())],
  }
}
/** A held consumption with the rows held with it, and `values` (a row more) if given, as one write. */
function consumptionWrite(consumed: HeldConsumption, values?: readonly unknown[]): GroupedWrite {
  return { rows: values ? [...(consumed.rows ?? []), values] : consumed.rows ?? [], consumption: { at: consumed.at, model: consumed.model, key: consumed.key } }
}
/** The statement and parameters that make a held consumption with the rows held with it, and `values` (a row more) if given. */
function onConsumption(consumed: HeldConsumption, values?: readonly unknown[]): [string, unknown[]] {
  const { sql, parameters } = exchangeStatement([consumptionWrite(consumed, values)])
  return [sql, parameters]
}
const SQL = {
  find: `select p.payload, p.consumed_at, ${USABLE} from ${GOVERNED} where p.model = $1 and p.id = $2 and ${LIVE}`,
  findToken: `select p.payload, p.consumed_at, ${USABLE}, ${TOKEN_COLUMNS} from ${GOVERNED} ${GRANT_OF} ${SESSION_OF} where p.model = $1 and p.id = $2 and ${LIVE}`,
  // TokenLookup's: one token as one kind (a refresh, userinfo), as several (introspection), and
  // several tokens. PostgreSQL settles on a generic plan of the first after five executions on a
  // connection, but plans the others at every one (their generic plans, with a list parameter, are
  // estimated dearer than the custom ones).
  findOneAsModel: `select p.model, p.id as token_key, p.payload, p.consumed_at, ${USABLE}, ${TOKEN_COLUMNS} from ${GOVERNED} ${GRANT_OF} ${SESSION_OF} where p.model = $1 and p.id = $2 and ${LIVE}`,
  findAsModels: `select p.model, p.id as token_key, p.payload, p.consumed_at, ${USABLE}, ${TOKEN_COLUMNS} from ${GOVERNED} ${GRANT_OF} ${SESSION_OF} where p.model = any($1::text[]) and p.id = $2 and ${LIVE}`,
  findManyAsModels: `select p.model, p.id as token_key, p.payload, p.consumed_at, ${USABLE}, ${TOKEN_COLUMNS} from ${GOVERNED} ${GRANT_OF} ${SESSION_OF} where p.model = any($1::text[]) and p.id = any($2::text[]) and ${LIVE}`,
  // An interaction a resume reads and destroys (an expired one is deleted too, and not returned).
  findToDestroy: `with p as (delete from oidc_payload where model = $1 and id = $2 returning payload, consumed_at, certificate_serial, expires_at)
    select p.payload, p.consumed_at, ${USABLE} from p left join certificate c on c.serial = p.certificate_serial where ${LIVE}`,
  findByUid: `select p.id, p.payload, p.consumed_at, p.sealed_id, ${USABLE} from ${GOVERNED} where p.model = $1 and p.uid = $2 and ${LIVE} limit 1`,
  findByUserCode: `select p.id, p.payload, p.consumed_at, p.sealed_id, ${USABLE} from ${GOVERNED} where p.model = $1 and p.user_code = $2 and ${LIVE} limit 1`,
  // A replay id reserved ($4) unless a live reservation holds it (an expired one, at $3, is taken over).
  claim: `insert into oidc_payload (model, id, payload, expires_at) values ($1, $2, '{"reserved":true}', $4)
    on conflict (model, id) do update set payload = excluded.payload, expires_at = excluded.expires_at, consumed_at = null
    where oidc_payload.expires_at <= $3
    returning id`,
  consume: 'update oidc_payload set consumed_at = $1 where model = $2 and id = $3',
  consumeOnce: 'update oidc_payload set consumed_at = $1 where model = $2 and id = $3 and consumed_at is null returning id',
  destroy: 'delete from oidc_payload where model = $1 and id = $2',
  // Every code and token of the grant of this row, and the grant itself (oidc_payload_grant_idx, primary key).
  revokeGrantOf: `with g as (select grant_id from oidc_payload where model = $1 and id = $2 and grant_id is not null)
    delete from oidc_payload p using g
    where (p.model in ('AccessToken', 'RefreshToken', 'AuthorizationCode') and p.grant_id = g.grant_id)
       or (p.model = 'Grant' and p.id = ${storageKeySql('g.grant_id')})`,
}

/** What a request held that a write makes in its own statement (PostgresAdapter #beforeWrite). */
interface Held {
  readonly consumed?: HeldConsumption
  readonly along: readonly AlongWrite[]
  readonly pending: readonly (readonly unknown[])[]
}
const NOTHING_HELD: Held = { along: [], pending: [] }

/** Consumes a code or refresh token once; losing the race to another use is a reuse (see consume). */
async function makeConsumption(db: Database, consumption: HeldConsumption): Promise<void> {
  if (!consumption.rows?.length) {
    const { rows } = await db.executeQuery(CompiledQuery.raw(SQL.consumeOnce, [consumption.at, consumption.model, consumption.key]))
    if (rows.length === 0) await reused(db, consumption.model, consumption.key)
    return
  }
  // With the rows held with it (a rotated refresh token's replacement): written only with it.
  const { rows } = await db.executeQuery<WrittenRow>(CompiledQuery.raw(...onConsumption(consumption)))
  if (rows.length === 0) await reused(db, consumption.model, consumption.key)
  // The rows are tokens of the token endpoint (each row's model), not the code's.
  refuseEndedTokens(rows)
}

/** Writes upserts a request held (a code: RequestRows holdRow) in one statement of their own. */
async function makeRows(db: Database, rows: readonly (readonly unknown[])[]): Promise<void> {
  if (!rows.length) return
  refuseEndedTokens((await db.executeQuery<WrittenRow>(CompiledQuery.raw(upsertRows(rows.length), rows.flat()))).rows)
}

/** Throws loginEnded for a code or token among the rows written (every upsert returns each row's model) that no certificate's login holds. */
function refuseEndedTokens(rows: readonly WrittenRow[]): void {
  const ended = rows.find((r) => r.certificate_serial === '' && TOKEN_MODELS.has(r.model))
  if (ended) throw loginEnded(ended.model)
}

/** The error for a code or token written for a login whose certificate's status change ended it meanwhile. */
function loginEnded(model: string): InstanceType<typeof errors.AccessDenied | typeof errors.InvalidGrant> {
  const description = 'the certificate of this login is no longer valid'
  return model === 'AuthorizationCode' ? new errors.AccessDenied(description) : new errors.InvalidGrant(description)
}

/** Writes a request held (RequestRows), in one statement of their own. */
async function makeWritesAlong(db: Database, along: readonly AlongWrite[]): Promise<void> {
  if (!along.length) return
  const statement = withWritesAlong('select 1', [], along)
  await db.executeQuery(CompiledQuery.raw(statement.sql, statement.parameters))
  for (const write of along) write.done?.()
}

/** A code or refresh token another request consumed first: what its grant gave is revoked, and the grant. */
async function reused(db: Database, model: string, key: string): Promise<never> {
  await db.executeQuery(CompiledQuery.raw(SQL.revokeGrantOf, [model, key]))
  throw new errors.InvalidGrant(`${model === 'AuthorizationCode' ? 'authorization code' : 'refresh token'} already used`)
}

/**
 * After each request, however it ended: what it still holds is made now, so nothing once asked
 * for is lost. Its writes along (it wrote nothing after them), and a consumption (it consumed a
 * code or refresh token and wrote nothing after, as when a check after the consumption failed),
 * and a code no session write took along. Returns the error to answer instead when the
 * consumption lost a race (a reuse: the grant is revoked), or when the code's login ended while
 * the request ran (its certificate's status changed).
 */
export async function settleRequest(db: Database, requests: RequestRows, request: object): Promise<InstanceType<typeof errors.InvalidGrant | typeof errors.AccessDenied> | undefined> {
  await makeWritesAlong(db, requests.releaseAlong(request))
  const held = requests.release(request)
  const pending = requests.releaseRows(request)
  try {
    if (held) await makeConsumption(db, held)
    await makeRows(db, pending)
    return undefined
  } catch (err) {
    if (err instanceof errors.InvalidGrant || err instanceof errors.AccessDenied) return err
    throw err
  }
}

/** A row deleted because its login's certificate changed status: what a logout notice needs of it. */
export interface EndedRow {
  model: string
  serial: string
  payload: Record<string, unknown>
}

/**
 * Deletes every row of the logins of these certificates (sessions, interactions, codes, tokens),
 * in the caller's transaction; returns them. Called where the status changes (ca/status-effects.ts).
 */
export async function deleteByCertificate(trx: Database, serials: string[]): Promise<EndedRow[]> {
  if (!serials.length) return [] // never an unfiltered delete
  const rows = await trx.deleteFrom('oidc_payload').where('certificate_serial', 'in', serials) // oidc_payload_certificate_idx
    .returning(['model', 'certificate_serial', 'payload']).execute()
  return rows.map((r) => ({ model: r.model, serial: r.certificate_serial!, payload: JSON.parse(r.payload) as Record<string, unknown> }))
}

/** What a stored session says of the institutions it logged in to. */
export interface StoredSession {
  accountId?: string
  authorizations?: Record<string, { sid?: string; grantId?: string }>
}

/**
 * Sessions by uid, whatever their certificate (for the logout notices of a status change). One
 * array parameter: a certificate with a great many logins must not hit the parameter limit.
 */
export async function sessionsByUid(trx: Database, uids: string[]): Promise<Map<string, StoredSession>> {
  if (!uids.length) return new Map()
  const rows = await trx.selectFrom('oidc_payload').select(['uid', 'payload'])
    .where('model', '=', 'Session').where('uid', '=', sql<string>`any(${uids}::text[])`) // oidc_payload_uid_idx
    .execute()
  return new Map(rows.map((r) => [r.uid!, JSON.parse(r.payload) as StoredSession]))
}

/**
 * Ends the client-credentials tokens a client holds (its secret was rotated: what the old secret
 * obtained, a leaked one's included, stops working). Its subscribers' tokens are theirs and stay.
 */
export async function deleteClientCredentials(db: Database, clientId: string): Promise<number> {
  const result = await db.deleteFrom('oidc_payload').where('model', '=', 'ClientCredentials')
    .where(sql<string>`payload::jsonb ->> 'clientId'`, '=', clientId).executeTakeFirst()
  return Number(result.numDeletedRows)
}

/**
 * Re-seals what oidc_payload holds sealed with the current master key: each client's secret and
 * each sealed id (sessions and the like, found by uid). A row changes only if it is as read.
 */
export async function rewrapPayloads(db: Database, box: SealedBox): Promise<RewrapCount> {
  const secrets = await rewrapTable(box, 'oidc_payload',
    async () => (await db.selectFrom('oidc_payload').select(['id', 'payload']).where('model', '=', 'Client').execute())
      .map((r) => ({ ...r, parsed: JSON.parse(r.payload) as Record<string, unknown> })).filter((r) => typeof r.parsed.sealed_client_secret === 'string'),
    (r) => r.parsed.sealed_client_secret as string, (r) => clientSecretContext(r.id),
    async (r, resealed) => (await db.updateTable('oidc_payload').set({ payload: JSON.stringify({ ...r.parsed, sealed_client_secret: resealed }) })
      .where('model', '=', 'Client').where('id', '=', r.id).where('payload', '=', r.payload).executeTakeFirst()).numUpdatedRows)
  const ids = await rewrapTable(box, 'oidc_payload',
    () => db.selectFrom('oidc_payload').select(['model', 'id', 'sealed_id']).where('sealed_id', 'is not', null).execute(),
    (r) => r.sealed_id!, (r) => sealedIdContext(r.model, r.id),
    async (r, resealed) => (await db.updateTable('oidc_payload').set({ sealed_id: resealed })
      .where('model', '=', r.model).where('id', '=', r.id).where('sealed_id', '=', r.sealed_id).executeTakeFirst()).numUpdatedRows)
  return { table: 'oidc_payload', rewrapped: secrets.rewrapped + ids.rewrapped, total: secrets.total + ids.total, remaining: secrets.remaining + ids.remaining }
}

const clientSecretContext = (clientId: string) => `oidc_payload:Client:${clientId}:client_secret`
const sealedIdContext = (model: string, key: string) => `oidc_payload:${model}:${key}:id`

/**
 * Deletes expired rows in batches of `batchSize`, so a large backlog never becomes one long
 * transaction, and goes on while batches come back full: the sweep keeps up with any issuance
 * rate, however large the backlog (each batch walks oidc_payload_expires_idx from its oldest
 * end). SKIP LOCKED lets several instances sweep at once without waiting on each other. The
 * batch under way when `signal` aborts finishes; then the sweep ends. Returns the rows deleted.
 */
export async function sweepExpired(db: Database, clock: Clock, batchSize = 1000, options: { signal?: AbortSignal; onBatch?: (deleted: number) => void } = {}): Promise<number> {
  let total = 0
  while (!options.signal?.aborted) {
    const now = clock.now()
    const result = await sql<{ n: number }>`
      with doomed as (
        select model, id from oidc_payload
        where expires_at is not null and expires_at <= ${now}
        order by expires_at
        limit ${batchSize}
        for update skip locked
      )
      delete from oidc_payload p using doomed d where p.model = d.model and p.id = d.id
    `.execute(db) // oidc_payload_expires_idx
    const deleted = Number(result.numAffectedRows ?? 0n)
    total += deleted
    options.onBatch?.(deleted)
    if (deleted < batchSize) break
  }
  return total
}

/** The lookup of a token as several kinds in one statement, for a provider's adapters. */
export const tokenLookup = (db: Database, clock: Clock) => new TokenLookup(db, clock, { oneAsOne: SQL.findOneAsModel, one: SQL.findAsModels, many: SQL.findManyAsModels })

/** Token writes of concurrent requests in one statement each, for a provider's adapters. */
export const groupedUpserts = (db: Database) => new GroupedUpserts(db, upsertStatement)

/** The tokens of concurrent exchanges and rotations in one statement each, with their consumptions, for a provider's adapters. */
export const groupedExchanges = (db: Database) => new GroupedUpserts(db, exchangeStatement)
