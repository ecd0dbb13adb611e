import fs from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { migrationsCurrent } from '../db/migrator.ts'
import type { Router } from '../http/router.ts'
import { cache, noStore, revalidate } from '../http/guards.ts'
import type { Metrics } from './metrics.ts'

/** Liveness, readiness, metrics, and the few static files PostCert's pages use. */
export function addOpsRoutes(router: Router, deps: { db: Database; metrics: Metrics; publicDir: string; bundles: Map<string, Uint8Array> }): void {
  router.add('GET', '/healthz', 'healthz', noStore, (ctx) => {
    ctx.body = { status: 'ok' }
  })

  router.add('GET', '/readyz', 'readyz', noStore, async (ctx) => {
    const checks: Record<string, string> = {}
    try {
      await sql`select 1`.execute(deps.db)
      checks.database = 'ok'
    } catch {
      checks.database = 'unreachable'
    }
    if (checks.database === 'ok') {
      checks.migrations = await migrationsCurrent(deps.db).then((current) => (current ? 'ok' : 'pending'), () => 'pending')
    }
    const ready = Object.values(checks).every((v) => v === 'ok')
    ctx.status = ready ? 200 : 503
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks }
  })

  router.add('GET', '/metrics', 'metrics', noStore, async (ctx) => {
    ctx.type = deps.metrics.contentType
    ctx.body = await deps.metrics.exposition()
  })

  addAssetRoutes(router, deps)
}

/** The pages' scripts (bundled at start-up) and the files of public/ (styles, marks), under /assets. */
export function addAssetRoutes(router: Router, deps: { publicDir: string; bundles: Map<string, Uint8Array> }): void {
  for (const [file, body] of deps.bundles) {
    router.add('GET', `/assets/${file}`, 'assets', revalidate, (ctx) => {
      ctx.type = 'text/javascript; charset=utf-8'
      ctx.body = Buffer.from(body)
    })
  }
  for (const file of fs.readdirSync(deps.publicDir)) {
    const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : file.endsWith('.js') ? 'text/javascript; charset=utf-8'
      : file.endsWith('.svg') ? 'image/svg+xml' : undefined
    if (!type) continue
    const body = fs.readFileSync(path.join(deps.publicDir, file))
    router.add('GET', `/assets/${file}`, 'assets', cache('public, max-age=3600'), (ctx) => {
      ctx.type = type
      ctx.body = body
    })
  }
}
