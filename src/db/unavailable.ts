/** Node's connection errors. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
/**
 * PostgreSQL conditions that say the database cannot serve now, not that the request is wrong:
 * connection exceptions (class 08), a server shutting down or starting (57P01-57P03), a statement
 * cancelled by statement_timeout (57014), a lock not granted within lock_timeout (55P03), too
 * many connections (53300).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '55P03', '53300'])
/** What pg and its pool say when a connection cannot be made, is lost, or stops answering. */
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Client was closed and is not queryable|Connection is closed/i

/** Whether an error means the database is down, unreachable or too slow (a 503, not a 500). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  if (!e || typeof e !== 'object') return false
  const code = typeof e.code === 'string' ? e.code : ''
  return CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)
    || (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message))
}

/**
 * Whether the connection that raised this error is still usable: PostgreSQL's own answers (a
 * SQLSTATE, such as a statement timeout) leave it so; a lost or silent connection does not.
 */
export function connectionSurvives(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P')
}

/** Seconds a client is asked to wait before trying again while the database is unavailable. */
export const RETRY_AFTER_SECONDS = 5
