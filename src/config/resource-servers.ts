import { z } from 'zod'

/**
 * An API that institutions' services call with client_credentials tokens (RFC 8707 resource
 * indicators), named by the operator in RESOURCE_SERVERS.
 */
export interface ResourceServerConfig {
  /** The resource indicator clients ask for, and the tokens' audience. */
  resource: string
  /** The scopes it knows (space-separated); a token carries those asked for among them. */
  scope: string
  /** The clients that may get tokens for it: any other asking is refused (invalid_target). */
  clients: string[]
  /**
   * `opaque`: stored, checked by introspection, ended at once by revocation. `jwt`: an RFC 9068
   * JWT the API verifies with PostCert's JWKS without calling back, never stored (no database
   * write per token), and valid until it expires whatever happens: revocation does not reach it.
   */
  format: 'opaque' | 'jwt'
  /** How a JWT is signed (with PostCert's key of that kind at /jwks): ES256 by default, the cheapest to make; RS256 for APIs that know no other. */
  alg: 'ES256' | 'PS256' | 'RS256'
  /** Token lifetime in seconds (60 to 3600); ACCESS_TOKEN_SECONDS when not given. */
  ttl?: number
}

// RFC 6749 section 3.3: scope tokens are printable ASCII but space, '"' and '\'.
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/

const entry = z.object({
  resource: z.url({ protocol: /^https?$/, error: 'resource must be an absolute http(s) URL' })
    .refine((v) => !new URL(v).hash, { error: 'resource must not have a fragment (RFC 8707)' }),
  scope: z.string().regex(SCOPE, { error: 'scope must be space-separated scope tokens' }),
  clients: z.array(z.string().min(1)).min(1, { error: 'clients must name at least one client_id' }),
  format: z.enum(['opaque', 'jwt']).default('opaque'),
  alg: z.enum(['ES256', 'PS256', 'RS256']).default('ES256'),
  ttl: z.number().int().min(60).max(3600).optional(),
}).strict()

/**
 * RESOURCE_SERVERS: a JSON array of resource servers. Throws an Error whose message says what is
 * wrong (config.ts prefixes the variable's name).
 */
export function parseResourceServers(text: string | undefined, options: { production: boolean; ownOrigin: string }): ResourceServerConfig[] {
  if (!text) return []
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error('must be a JSON array of resource servers')
  }
  const parsed = z.array(entry).safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new Error(`${issue.path.length ? `[${issue.path.join('].')}: ` : ''}${issue.message}`)
  }
  const seen = new Set<string>()
  for (const server of parsed.data) {
    if (seen.has(server.resource)) throw new Error(`names ${server.resource} twice`)
    seen.add(server.resource)
    if (new URL(server.resource).origin === options.ownOrigin) throw new Error(`must not name ${server.resource}: PostCert's own APIs are not configured here`)
    if (options.production && !server.resource.startsWith('https://')) throw new Error(`${server.resource} must be https in production`)
  }
  return parsed.data
}
