import pino, { type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../config/config.ts'

/**
 * PostCert's logger: JSON lines with `time` as an ISO 8601 timestamp (UTC), `service` and the
 * caller's bindings (a worker's number, the supervisor's role).
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'postcert', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }
  return destination ? pino(options, destination) : pino(options)
}
