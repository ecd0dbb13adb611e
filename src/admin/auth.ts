import type { Context } from 'koa'
import type Provider from 'oidc-provider'
import { noteClient } from '../http/request-context.ts'
import { ADMIN_API } from '../oidc/client-policy.ts'
import { insufficientScope, invalidToken } from './errors.ts'
import { isLocalToken } from './local-token.ts'

/** The scope an admin API token carries. */
export const ADMIN_SCOPE = 'admin'

/** Who called: written into the audit events of what they did. */
export interface Actor {
  /** `client:<client_id>` for an API client, `cli` for the operator's console (local-token.ts). */
  id: string
  clientId: string | undefined
}

/** The operator at the server's console: the CLI, through the local token or on the database. */
export const CONSOLE: Actor = { id: 'cli', clientId: undefined }

/** Whether the actor is the server's console (what only it may do: admin API clients). */
export const isConsole = (actor: Actor | undefined) => actor?.id === CONSOLE.id

/**
 * The caller of an admin route: a bearer token that PostCert issued with the client_credentials
 * grant, with the `admin` scope, to a client the operator made an admin API client (ADMIN_API),
 * which still exists; or the local token of the operator's console (local-token.ts). A subscriber's token, another grant's, an institution's, a sender-constrained
 * (DPoP) one or one for the signatures API is refused, whatever scope it names: the flag, set
 * only by the operator, is what lets a client in.
 */
export async function authenticate(ctx: Context, provider: Provider, localTokenHash?: Buffer): Promise<Actor> {
  const header = ctx.get('authorization')
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header)
  if (!match) {
    ctx.set('WWW-Authenticate', 'Bearer realm="postcert-admin"')
    throw invalidToken('an admin API token is required (Authorization: Bearer, from the client_credentials grant with scope admin)')
  }
  if (isLocalToken(match[1]!, localTokenHash)) return CONSOLE
  const refuse = (why: string) => {
    ctx.set('WWW-Authenticate', 'Bearer realm="postcert-admin", error="invalid_token"')
    return invalidToken(why)
  }
  const token = await provider.ClientCredentials.find(match[1]!)
  if (!token || token.isExpired) throw refuse('the token is unknown or expired')
  if (token.jkt || token['x5t#S256'] || token.resourceServer) throw refuse('the token is bound to a key or to another resource: ask for a plain admin token')
  const client = token.clientId ? await provider.Client.find(token.clientId) : undefined
  if (!client || (client as unknown as Record<string, unknown>)[ADMIN_API] !== true) throw refuse('the token\'s client is not an admin API client')
  if (!String(token.scope ?? '').split(' ').includes(ADMIN_SCOPE)) {
    ctx.set('WWW-Authenticate', `Bearer realm="postcert-admin", error="insufficient_scope", scope="${ADMIN_SCOPE}"`)
    throw insufficientScope(`the token needs the ${ADMIN_SCOPE} scope`)
  }
  noteClient(ctx, client.clientId)
  return { id: `client:${client.clientId}`, clientId: client.clientId }
}
