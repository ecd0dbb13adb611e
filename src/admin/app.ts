import Koa, { type Context } from 'koa'
import type { Logger } from 'pino'
import { z } from 'zod'
import { invalidRequest } from '../errors/errors.ts'
import { errorHandler } from '../http/error-handler.ts'
import { readJson, singleValues } from '../http/form.ts'
import { noStore } from '../http/guards.ts'
import { requestContext } from '../http/request-context.ts'
import { Router } from '../http/router.ts'
import { securityHeaders } from '../http/security-headers.ts'
import type { Views } from '../http/views.ts'
import type { Metrics } from '../ops/metrics.ts'
import { adminRoutes, type AdminDeps, type AdminRoute } from './api.ts'
import { authenticate, type Actor } from './auth.ts'
import type { Csrf } from '../http/csrf.ts'
import type { DailyTally } from '../ops/daily-tally.ts'
import { addAssetRoutes } from '../ops/routes.ts'
import { addConsoleRoutes } from './console.ts'
import { tokenProof } from './local-token.ts'
import { openApiDocument } from './openapi.ts'

export interface AdminAppDeps extends AdminDeps {
  /** SHA-256 of the local token (local-token.ts), when the server wrote one. */
  localTokenHash: Buffer | undefined
  logger: Logger
  metrics: Metrics
  views: Views
  version: string
  /** The operator console's needs (console.ts): form tokens, the dashboard's counts, the pages' files. */
  csrf: Csrf
  tally: DailyTally
  assets: { publicDir: string; bundles: Map<string, Uint8Array> }
}

/**
 * The management listener's application (ADMIN_PORT): the admin API, its OpenAPI document at
 * /openapi.json, /healthz, /metrics for an admin token, and the operator console (/console). Requests are logged and counted as
 * on the public port (routes named admin_<operationId>); errors are OAuth-style JSON.
 */
export function createAdminApp(deps: AdminAppDeps): Koa {
  const routes = adminRoutes(deps)
  const document = openApiDocument(routes, { issuer: deps.issuer, version: deps.version })
  const router = new Router()
  router.add('GET', '/openapi.json', 'admin_openapi', noStore, (ctx) => {
    ctx.body = document
  })
  // The CLI asks the listener to prove it is the server that wrote DATA_DIR/admin.token before it
  // sends the token (local-token.ts).
  const localTokenHash = deps.localTokenHash
  if (localTokenHash) {
    router.add('POST', '/cli/proof', 'admin_cli_proof', noStore, async (ctx) => {
      const { nonce } = await readJson(ctx, 1024)
      if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{22,128}$/.test(nonce)) throw invalidRequest('nonce must be 22 to 128 base64url characters')
      ctx.body = { proof: tokenProof(localTokenHash, nonce) }
    })
  }
  router.add('GET', '/healthz', 'admin_healthz', noStore, (ctx) => {
    ctx.body = { status: 'ok' }
  })
  router.add('GET', '/metrics', 'admin_metrics', noStore, async (ctx) => {
    await authenticate(ctx, deps.provider(), deps.localTokenHash)
    ctx.type = deps.metrics.contentType
    ctx.body = await deps.metrics.exposition()
  })
  const byId = new Map(routes.map((route) => [route.operationId, route]))
  addConsoleRoutes(router, {
    operators: deps.operators, views: deps.views, csrf: deps.csrf, tally: deps.tally, limiter: deps.limiter, clock: deps.clock,
    call: async (operationId, raw, actor) => await invoke(byId.get(operationId)!, raw, actor),
  })
  addAssetRoutes(router, deps.assets)
  router.add('GET', '/', 'admin_home', noStore, (ctx) => {
    ctx.status = 303
    ctx.redirect('/console')
  })
  for (const route of routes) {
    router.add(route.method, route.path.replace(/\{(\w+)\}/g, ':$1'), `admin_${route.operationId}`, noStore, async (ctx, params) => {
      await run(route, ctx, params, deps)
    })
  }
  const app = new Koa()
  app.use(requestContext(deps.logger, deps.metrics, false))
  app.use(securityHeaders(false))
  app.use(errorHandler(deps.views, deps.logger))
  app.use(router.middleware())
  return app
}

async function run(route: AdminRoute, ctx: Context, params: Record<string, string>, deps: AdminAppDeps): Promise<void> {
  const actor = route.public ? undefined : await authenticate(ctx, deps.provider(), deps.localTokenHash)
  const result = await invoke(route, { params, query: singleValues(ctx.query), body: route.body ? await readJson(ctx) : undefined }, actor)
  ctx.status = route.status ?? 200
  if (route.jsonLines) {
    ctx.type = 'application/x-ndjson'
    ctx.set('Content-Disposition', `attachment; filename="postcert-${route.operationId}.jsonl"`)
  }
  ctx.body = result
}

/**
 * Validates a request's parts against the route's schemas (unknown fields refused) and runs it:
 * the one way in, for the listener and for the CLI when no server runs.
 */
export async function invoke(route: AdminRoute, raw: { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown }, actor: Actor | undefined): Promise<unknown> {
  const input = {
    params: route.params ? parse(route.params, raw.params ?? {}, 'path') as Record<string, string> : {},
    query: route.query ? parse(route.query, raw.query ?? {}, 'query') as Record<string, unknown> : {},
    body: route.body ? parse(route.body, raw.body ?? {}, 'body') : undefined,
  }
  return await route.handle(input, actor)
}

/** Validates one part of a request; the first problem is the error's description. */
function parse(schema: z.ZodObject, value: unknown, where: string): unknown {
  const parsed = schema.strict().safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const name = issue.path.length ? issue.path.join('.') : where
  throw invalidRequest(`${where} ${name}: ${issue.message}`)
}
