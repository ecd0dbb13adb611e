// PostCert server entry. Tracing comes first when the OTEL_* settings ask for it: it must hook
// node:http, koa and pg before they load, which is why the server is imported only afterwards.
import { tracingRequested } from './config/env.ts'

const flushTracing = tracingRequested(process.env) ? (await import('./ops/tracing.ts')).startTracing() : undefined
const { runServer } = await import('./server-main.ts')
runServer({ flushTracing })
