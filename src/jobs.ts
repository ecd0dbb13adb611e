import { CRL_CHECK_SECONDS, EXPIRY_REMINDER_SECONDS, LOGOUT_NOTICE_SECONDS, SWEEP_BATCH_SIZE, TALLY_FLUSH_SECONDS } from './constants.ts'
import { ExpiryReminders } from './account/expiry-reminders.ts'
import { timedSms, type AppContext } from './context.ts'
import { DatabaseUnavailableError } from './errors/postcert-error.ts'
import { sweepExpired } from './oidc/adapter.ts'

/**
 * The periodic work of a running instance: reload on key rotation, keep the CRL fresh, end the
 * logins of expired certificates, remind subscribers of expiry, sweep expired rows. Every job is
 * safe on many instances at once (each takes its own lock or works row by row). Returns the stop.
 */
export function startJobs(ctx: AppContext): () => void {
  const timers: NodeJS.Timeout[] = []
  // Ends a sweep between its batches when the instance stops.
  const stopping = new AbortController()
  const every = (seconds: number, name: string, job: () => Promise<unknown>): void => {
    let running = false
    const timer = setInterval(() => {
      if (running) return
      running = true
      job().catch((err) => {
        // The database being away is reported once per run, without a stack; anything else is a bug.
        if (err instanceof DatabaseUnavailableError) ctx.logger.warn({ cause: (err.cause as Error | undefined)?.message }, `${name} skipped: database unavailable`)
        else ctx.logger.error({ err }, `${name} failed`)
      }).finally(() => { running = false })
    }, seconds * 1000)
    timer.unref()
    timers.push(timer)
  }

  // Builds a new CRL only when the current one has aged (or a status changed): at least daily.
  every(CRL_CHECK_SECONDS, 'crl refresh', () => ctx.crl.current())
  every(ctx.config.keyRefreshSeconds, 'key refresh', () => ctx.host.refresh())
  // Logins of certificates that expired end like those of revoked ones; institutions are told.
  every(LOGOUT_NOTICE_SECONDS, 'certificate logins', async () => {
    const expired = await ctx.certificateLogins.endExpired()
    const delivered = await ctx.logoutNotices.drain()
    if (expired || delivered) ctx.logger.info({ expired, delivered }, 'logins of expired certificates ended, back-channel logouts delivered')
  })
  // Text messages 30, 7 and 1 days before a certificate expires, each once across all instances.
  const reminders = new ExpiryReminders({ db: ctx.db, clock: ctx.clock, sms: timedSms(ctx.sms, ctx.metrics), issuer: ctx.config.issuer, service: ctx.config.brand.ko.service, logger: ctx.logger })
  every(EXPIRY_REMINDER_SECONDS, 'expiry reminders', async () => {
    const sent = await reminders.run()
    if (sent) ctx.logger.info({ sent }, 'expiry reminders sent')
  })
  // The console dashboard's counts of this instance, added to the database's.
  every(TALLY_FLUSH_SECONDS, 'dashboard counts', () => ctx.tally.flush())
  every(ctx.config.sweepIntervalSeconds, 'sweep', async () => {
    const deleted = await sweepExpired(ctx.db, ctx.clock, SWEEP_BATCH_SIZE, { signal: stopping.signal }) + await ctx.authority.sweepChallenges()
      + await ctx.enrollment.sweep() + await ctx.phoneCodes.sweep() + await ctx.limiter.sweep() + await ctx.possession.sweep() + await ctx.loginSessions.sweep() + await ctx.portalSessions.sweep() + await ctx.operators.sweep()
    if (deleted) ctx.logger.info({ deleted }, 'expired rows swept')
  })
  return () => {
    stopping.abort()
    for (const timer of timers) clearInterval(timer)
  }
}
