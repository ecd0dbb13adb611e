import { trace } from '@opentelemetry/api'
import pino, { type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../config/config.ts'

/**
 * PostCert's logger: JSON lines with `time` as an ISO 8601 timestamp (UTC), `service` and the
 * caller's bindings (a worker's number, the supervisor's role), and with tracing on, the
 * `trace_id` and `span_id` of the span the line was written in.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'postcert', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceFields }
  return destination ? pino(options, destination) : pino(options)
}

/** The active span's ids (none without tracing: the API's no-op has no active span). */
function traceFields(): Record<string, string> {
  const context = trace.getActiveSpan()?.spanContext()
  return context && trace.isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : {}
}
