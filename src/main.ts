// PostCert server: read env -> build config -> build context -> listen; SIGTERM drains and closes.
import { buildConfig, ConfigError } from './config/config.ts'
import { readEnv } from './config/env.ts'
import { loadSecrets } from './config/secrets.ts'
import { AppContext } from './context.ts'
import { listen } from './http/server.ts'
import { describeStartupError } from './util/startup-error.ts'

async function main(): Promise<void> {
  const env = readEnv()
  const config = buildConfig(env)
  const secrets = loadSecrets(env, config)
  const ctx = AppContext.create(config, secrets)
  try {
    await ctx.start()
  } catch (err) {
    await ctx.close().catch(() => {})
    throw err
  }
  ctx.startBackgroundJobs()
  const running = await listen(ctx)
  ctx.logger.info({ issuer: config.issuer, port: running.server.address(), database: config.database.kind }, 'PostCert listening')

  let stopping = false
  const shutdown = (signal: NodeJS.Signals) => {
    // A repeated SIGTERM changes nothing; a second Ctrl-C means "now".
    if (stopping) {
      if (signal === 'SIGINT') process.exit(130)
      return
    }
    stopping = true
    ctx.logger.info({ signal }, 'shutting down')
    running.close().then(
      () => {
        ctx.logger.info('PostCert stopped')
        process.exit(0)
      },
      (err) => { ctx.logger.error({ err }, 'shutdown failed'); process.exit(1) },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

main().catch((err) => {
  process.stderr.write(`postcert: ${describeStartupError(err)}\n`)
  process.exit(err instanceof ConfigError ? 78 : 1)
})
