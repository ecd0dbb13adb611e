import fs from 'node:fs'
import path from 'node:path'
import { createAdminApp } from './admin/app.ts'
import { tokenHash } from './admin/local-token.ts'
import { ROOT_DIR, type AppContext } from './context.ts'
import { buildBrowserBundles } from './http/bundles.ts'
import { listen, type RunningServer } from './http/server.ts'
import { startJobs } from './jobs.ts'
import { mountRoutes } from './routes.ts'

/** The public server, and the management listener (admin API) when ADMIN_PORT is not off. */
export interface ServingContext extends RunningServer {
  admin: RunningServer | undefined
}

/**
 * A context put to work: its routes mounted, listening on `port` (and the admin API on
 * ADMIN_HOST:ADMIN_PORT), its periodic work started when `jobs` is set (tests drive the jobs
 * themselves). Closing drains requests on both listeners, stops the jobs, then closes the context.
 */
export async function serve(ctx: AppContext, options: { port: number; host?: string; jobs: boolean; localAdminToken?: string }): Promise<ServingContext> {
  await mountRoutes(ctx)
  const stopJobs = options.jobs ? startJobs(ctx) : () => {}
  let admin: RunningServer | undefined
  try {
    if (ctx.config.admin) {
      const app = createAdminApp({
        ...ctx.adminDeps(), localTokenHash: options.localAdminToken ? tokenHash(options.localAdminToken) : undefined,
        logger: ctx.logger, metrics: ctx.metrics, views: ctx.views, version: VERSION, csrf: ctx.csrf, tally: ctx.tally,
        assets: { publicDir: path.join(ROOT_DIR, 'public'), bundles: await buildBrowserBundles(ROOT_DIR) },
      })
      const handle = app.callback()
      admin = await listen((req, res) => void handle(req, res), { port: ctx.config.admin.port, host: ctx.config.admin.host })
      ctx.adminListening(Number(new URL(admin.url).port))
    }
    const server = await listen(ctx.host.handle, {
      port: options.port, host: options.host,
      onClose: async () => {
        stopJobs()
        await admin?.close()
        await ctx.close()
      },
    })
    return { ...server, admin }
  } catch (err) {
    stopJobs()
    await admin?.close()
    throw err
  }
}

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version
