import { CompiledQuery } from 'kysely'
import type Provider from 'oidc-provider'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { storageKey, storageKeySql, type StoredRow } from '../oidc/adapter.ts'
import type { RequestRows } from '../db/request-rows.ts'

/** The registration (subscriber, client) and its grant's row: registration_pkey, then oidc_payload_pkey. */
const SQL = `select r.grant_id, p.payload, p.consumed_at
  from registration r
  join oidc_payload p on p.model = 'Grant' and p.id = ${storageKeySql('r.grant_id')} and (p.expires_at is null or p.expires_at > $3)
  where r.subscriber_id = $1 and r.client_id = $2`

export interface RegisteredGrantDeps {
  db: Database
  clock: Clock
  requests: RequestRows
}

/**
 * The grant of the subscriber's registration at this client (등록), read together with the
 * registration in one statement. oidc-provider's Grant.find still makes the Grant and checks it;
 * it takes the row already read instead of reading it again. Undefined when there is no
 * registration, or its grant expired or was revoked.
 */
export async function findRegisteredGrant(deps: RegisteredGrantDeps, Grant: Provider['Grant'], subscriberId: string, clientId: string) {
  const { rows: [row] } = await deps.db.executeQuery<StoredRow & { grant_id: string }>(
    CompiledQuery.raw(SQL, [subscriberId, clientId, deps.clock.now()]))
  if (!row) return undefined
  deps.requests.give('Grant', storageKey('Grant', row.grant_id), row)
  return await Grant.find(row.grant_id)
}
