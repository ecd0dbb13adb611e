// OpenTelemetry tracing, when the standard OTEL_* settings ask for it (main.ts loads this module
// before anything else, so that it can hook node:http, koa and pg as they load). The exporter,
// its endpoint, headers and protocol, the sampler, the service name and resource attributes are
// OpenTelemetry's own settings, read by its SDK: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
import { register } from 'node:module'
import type { IncomingMessage } from 'node:http'
import type { Span } from '@opentelemetry/api'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import { KoaInstrumentation } from '@opentelemetry/instrumentation-koa'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'

/** The modules the instrumentations patch. */
const INSTRUMENTED = ['http', 'https', 'koa', 'pg', 'pg-pool']

/** Probes and scrapes are not traced: they would be most of the spans and say nothing. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics'])

/** Span attributes that hold a URL, in the old and the stable HTTP conventions. */
const URL_ATTRIBUTES = ['http.target', 'http.url', 'url.full']

/** Cuts the query off every URL attribute the http instrumentation set, and empties url.query. */
function withoutQuery(span: Span): void {
  const attributes = (span as { attributes?: Record<string, unknown> }).attributes ?? {}
  for (const key of URL_ATTRIBUTES) {
    const value = attributes[key]
    if (typeof value === 'string' && value.includes('?')) span.setAttribute(key, value.slice(0, value.indexOf('?')))
  }
  if (attributes['url.query'] !== undefined) span.setAttribute('url.query', '')
}

/**
 * Starts the SDK with the http, koa and pg instrumentations; returns what flushes and stops it
 * (called before the process exits). Spans carry no query strings (oidc-provider's codes and
 * tokens travel there) and no SQL parameters.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  // ES module imports of what is instrumented are hooked through this loader, and nothing else:
  // PostCert's own modules load untouched (no rewritten sources, no cost).
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED } })
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: 'postcert' }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED.has((req.url ?? '').split('?')[0]!),
        // The query carries codes, tokens and state: spans keep the path only.
        requestHook: withoutQuery,
        applyCustomAttributesOnSpan: withoutQuery,
      }),
      new KoaInstrumentation(),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  })
  sdk.start()
  return () => sdk.shutdown()
}
