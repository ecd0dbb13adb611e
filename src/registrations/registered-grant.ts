import { CompiledQuery } from 'kysely'
import type Provider from 'oidc-provider'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { storageKey, storageKeySql, type StoredRow } from '../oidc/adapter.ts'
import { withWritesAlong, type RequestRows } from '../db/request-rows.ts'

/**
 * The registration (subscriber, client) and its grant's row: registration_pkey, then
 * oidc_payload_pkey. One row always; `first` (a write to make in the same statement) reports
 * whether it returned a row.
 */
const select = (first: boolean) => `select ${first ? 'exists (select 1 from along0)' : 'true'} as first_returned, r.grant_id, p.payload, p.consumed_at
  from (select 1) as one
  left join registration r on r.subscriber_id = $1 and r.client_id = $2
  left join oidc_payload p on p.model = 'Grant' and p.id = ${storageKeySql('r.grant_id')} and (p.expires_at is null or p.expires_at > $3)`

export interface RegisteredGrantDeps {
  db: Database
  clock: Clock
  requests: RequestRows
}

/**
 * The grant of the subscriber's registration at this client (등록), read together with the
 * registration in one statement. oidc-provider's Grant.find still makes the Grant and checks it;
 * it takes the row already read instead of reading it again (RequestRows). `grant` is undefined
 * when there is no registration, or its grant expired or was revoked.
 *
 * `first`: a write made first, in the same statement (a data-modifying CTE: a login remembered,
 * oidc/provider.ts); `firstReturned` says whether it returned a row.
 */
export async function findRegisteredGrant(deps: RegisteredGrantDeps, Grant: Provider['Grant'], subscriberId: string, clientId: string, first?: CompiledQuery) {
  const statement = withWritesAlong(select(first !== undefined), [subscriberId, clientId, deps.clock.now()], first ? [{ query: first }] : [])
  const { rows: [row] } = await deps.db.executeQuery<StoredRow & { first_returned: boolean; grant_id: string | null }>(CompiledQuery.raw(statement.sql, statement.parameters))
  if (!row?.grant_id || row.payload === null) return { grant: undefined, firstReturned: Boolean(row?.first_returned) }
  deps.requests.give('Grant', storageKey('Grant', row.grant_id), { payload: row.payload, consumed_at: row.consumed_at })
  return { grant: await Grant.find(row.grant_id), firstReturned: row.first_returned }
}
