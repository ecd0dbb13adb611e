// PostCert server entry. Tracing comes first when the OTEL_* settings ask for it: it must hook
// node:http, koa and pg before they load, which is why the server is imported only afterwards.
import { enableCompileCache } from 'node:module'
import { tracingRequested } from './config/env.ts'

// Node keeps compiled modules (and the stripped TypeScript) in its cache directory: later starts
// skip that work.
enableCompileCache()

const flushTracing = tracingRequested(process.env) ? (await import('./ops/tracing.ts')).startTracing() : undefined
const { runServer } = await import('./server-main.ts')
runServer({ flushTracing })
