import { adminRoutes } from '../admin/api.ts'
import { invoke } from '../admin/app.ts'
import { CONSOLE } from '../admin/auth.ts'
import { randomBytes } from 'node:crypto'
import { provesToken, readLocalToken } from '../admin/local-token.ts'
import type { AppContext } from '../context.ts'
import { PostCertError } from '../errors/errors.ts'

export interface CallInput {
  params?: Record<string, string>
  query?: Record<string, string>
  body?: Record<string, unknown>
}

/**
 * The admin API's operations, by operationId: through the running server on this machine when
 * there is one (its admin listener and local token, admin/local-token.ts), else in this process
 * on the database. Both run the same routes with the same checks, as the operator (`cli`).
 */
export interface AdminCaller {
  via: 'server' | 'database'
  call(operationId: string, input?: CallInput): Promise<unknown>
}

/** Runs the routes in this process, on an open context. */
export function databaseCaller(ctx: AppContext): AdminCaller {
  const routes = new Map(adminRoutes(ctx.adminDeps()).map((r) => [r.operationId, r]))
  return {
    via: 'database',
    call: async (operationId, input = {}) => await invoke(routes.get(operationId)!, input, CONSOLE),
  }
}

/**
 * The running server's admin API, when DATA_DIR holds its local token and its listener answers;
 * undefined otherwise (no server, or another machine's).
 */
export async function serverCaller(dataDir: string): Promise<AdminCaller | undefined> {
  const local = readLocalToken(dataDir)
  if (!local) return undefined
  let document: { paths: Record<string, Record<string, unknown> & { servers?: unknown }> }
  try {
    const res = await fetch(`${local.url}/openapi.json`, { signal: AbortSignal.timeout(3_000) })
    if (!res.ok) return undefined
    document = await res.json() as typeof document
  } catch {
    return undefined // a file left by a server that is gone
  }
  // Whoever answers must prove it wrote the token before it gets it (a port taken over after a crash).
  const nonce = randomBytes(24).toString('base64url')
  const proved = await fetch(`${local.url}/cli/proof`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nonce }), signal: AbortSignal.timeout(3_000),
  }).then(async (res) => (res.ok ? ((await res.json()) as { proof?: unknown }).proof : undefined), () => undefined)
  if (typeof proved !== 'string' || !provesToken(local.token, nonce, proved)) {
    throw new Error(`the admin listener at ${local.url} did not prove it is the server that wrote ${dataDir}/admin.token: nothing was sent to it (remove the file if no PostCert runs here)`)
  }
  const operations = new Map<string, { method: string; path: string }>()
  for (const [path, item] of Object.entries(document.paths)) {
    if (item.servers) continue // the issuer's public endpoints
    for (const [method, operation] of Object.entries(item)) operations.set((operation as { operationId: string }).operationId, { method: method.toUpperCase(), path })
  }
  return {
    via: 'server',
    call: async (operationId, input = {}) => {
      const operation = operations.get(operationId)
      if (!operation) throw new Error(`the running server has no ${operationId} operation (another version?)`)
      const path = operation.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(input.params?.[name] ?? ''))
      const query = input.query && Object.keys(input.query).length ? `?${new URLSearchParams(input.query)}` : ''
      const res = await fetch(`${local.url}${path}${query}`, {
        method: operation.method,
        headers: { authorization: `Bearer ${local.token}`, ...(input.body ? { 'content-type': 'application/json' } : {}) },
        ...(input.body ? { body: JSON.stringify(input.body) } : {}),
        signal: AbortSignal.timeout(60_000),
      })
      const type = res.headers.get('content-type') ?? ''
      const body: unknown = type.startsWith('application/json') ? await res.json() : await res.text()
      if (!res.ok) {
        const error = body as { error?: string; error_description?: string }
        throw new PostCertError(res.status, error.error ?? 'server_error', error.error_description ?? `the server answered ${res.status}`)
      }
      return body
    },
  }
}
