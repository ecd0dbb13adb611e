import type { AppContext } from './context.ts'
import { listen, type RunningServer } from './http/server.ts'
import { startJobs } from './jobs.ts'
import { mountRoutes } from './routes.ts'

/**
 * A context put to work: its routes mounted, listening on `port`, its periodic work started when
 * `jobs` is set (tests drive the jobs themselves). Closing drains requests, stops the jobs, then
 * closes the context.
 */
export async function serve(ctx: AppContext, options: { port: number; host?: string; jobs: boolean }): Promise<RunningServer> {
  await mountRoutes(ctx)
  const stopJobs = options.jobs ? startJobs(ctx) : () => {}
  try {
    return await listen(ctx.host.handle, {
      port: options.port, host: options.host,
      onClose: async () => {
        stopJobs()
        await ctx.close()
      },
    })
  } catch (err) {
    stopJobs()
    throw err
  }
}
