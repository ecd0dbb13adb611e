// PostCert server: read env -> build config -> build context -> listen; SIGTERM drains and closes.
// With WEB_CONCURRENCY above 1, a supervisor process forks that many servers sharing the port.
// Loaded by main.ts, after tracing (when asked for) is in place.
import cluster from 'node:cluster'
import { buildConfig, ConfigError, type ServerConfig } from './config/config.ts'
import { readEnv } from './config/env.ts'
import { loadSecrets } from './config/secrets.ts'
import { AppContext } from './context.ts'
import { localUrl, newLocalToken, writeLocalToken } from './admin/local-token.ts'
import { createLogger } from './ops/logger.ts'
import { serveClusterMetrics } from './ops/metrics.ts'
import { serve } from './serve.ts'
import { describeStartupError } from './util/startup-error.ts'

export interface RunOptions {
  /** Sends the spans still buffered (tracing.ts); awaited before the process exits. */
  flushTracing?: () => Promise<void>
}

async function main(options: RunOptions): Promise<void> {
  const env = readEnv()
  const config = buildConfig(env)
  // Before any worker exists: a development master key is generated here, once.
  const secrets = loadSecrets(env, config)
  if (config.workers > 1 && cluster.isPrimary) return supervise(config)
  // The operator's console reaches this server with a token only it can read (admin/local-token.ts):
  // the supervisor's, handed to each worker, or this process's own.
  const localAdminToken = process.env.POSTCERT_LOCAL_ADMIN_TOKEN ?? (config.admin ? newLocalToken() : undefined)
  delete process.env.POSTCERT_LOCAL_ADMIN_TOKEN
  // In a cluster, every worker is a full instance (they share only the database); the first one
  // alone registers the demo relying party.
  const worker = cluster.isWorker ? Number(process.env.POSTCERT_WORKER ?? 0) : undefined
  const logger = worker === undefined ? undefined : createLogger(config.logLevel, { worker, pid: process.pid })
  const ctx = await AppContext.fromConfig(worker ? { ...config, demoRelyingParty: undefined } : config, secrets, { logger })
  let running
  try {
    running = await serve(ctx, { port: config.port, jobs: true, localAdminToken })
  } catch (err) {
    await ctx.close().catch(() => {})
    throw err
  }
  const adminAddress = running.admin?.server.address()
  const removeLocalToken = cluster.isWorker || !config.admin || !localAdminToken || !adminAddress || typeof adminAddress === 'string' ? undefined
    : writeLocalToken(config.dataDir, { url: localUrl(config.admin.host, adminAddress.port), token: localAdminToken })
  ctx.logger.info({ issuer: config.issuer, port: running.server.address(), admin: running.admin?.server.address() ?? 'off', database: config.database.kind }, 'PostCert listening')

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
      async () => {
        removeLocalToken?.()
        ctx.logger.info('PostCert stopped')
        await options.flushTracing?.().catch(() => {})
        process.exit(0)
      },
      (err) => { ctx.logger.error({ err }, 'shutdown failed'); process.exit(1) },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

/**
 * The supervisor of WEB_CONCURRENCY workers: replaces a worker that dies while serving, stops
 * everything if one fails before it listens (a start-up error would only repeat), and passes
 * SIGTERM/SIGINT on for a graceful shutdown.
 */
function supervise(config: ServerConfig): void {
  const logger = createLogger(config.logLevel, { role: 'supervisor', pid: process.pid })
  let stopping = false
  const localAdminToken = config.admin ? newLocalToken() : undefined
  const removeLocalToken = config.admin && localAdminToken
    ? writeLocalToken(config.dataDir, { url: localUrl(config.admin.host, config.admin.port), token: localAdminToken }) : undefined
  const fork = (index: number) => {
    const worker = cluster.fork({ POSTCERT_WORKER: String(index), ...(localAdminToken ? { POSTCERT_LOCAL_ADMIN_TOKEN: localAdminToken } : {}) })
    let serving = false
    worker.once('listening', () => { serving = true })
    worker.on('exit', (code, signal) => {
      if (stopping) return
      if (!serving) {
        logger.error({ worker: index, code, signal }, 'a worker failed to start; stopping')
        stop('SIGTERM', code ?? 1)
        return
      }
      logger.error({ worker: index, code, signal }, 'worker died; starting a new one')
      fork(index)
    })
  }
  // Workers get SIGTERM whatever stopped the supervisor: a terminal's Ctrl-C reaches them too, and
  // a second SIGINT would make them stop without draining.
  const stop = (signal: NodeJS.Signals, exitCode = 0) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping workers')
    const workers = Object.values(cluster.workers ?? {})
    let left = workers.length
    if (left === 0) {
      removeLocalToken?.()
      process.exit(exitCode)
    }
    for (const worker of workers) {
      worker!.on('exit', () => {
        if (--left > 0) return
        removeLocalToken?.()
        logger.info('PostCert stopped')
        process.exit(exitCode)
      })
      worker!.process.kill('SIGTERM')
    }
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  serveClusterMetrics()
  logger.info({ workers: config.workers }, 'starting workers')
  for (let i = 0; i < config.workers; i++) fork(i)
}

/** Starts the server (or the supervisor of WEB_CONCURRENCY servers); a start-up error exits with one line. */
export function runServer(options: RunOptions = {}): void {
  main(options).catch((err) => {
    process.stderr.write(`postcert: ${describeStartupError(err)}\n`)
    process.exit(err instanceof ConfigError ? 78 : 1)
  })
}
