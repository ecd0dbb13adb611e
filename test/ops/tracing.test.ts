// OpenTelemetry tracing, switched on by OpenTelemetry's own settings: the server process sends its
// spans (http, koa, pg) over OTLP/HTTP JSON to a collector this test runs, and its log lines carry
// the trace id of the request they belong to.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { tracingRequested } from '../../src/config/env.ts'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { newMasterKey, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean }
interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: { key: string; value: OtlpValue }[] }
interface ReceivedSpan extends OtlpSpan { scope: string; service: string | undefined }

/** A minimal OTLP/HTTP collector (JSON encoding): keeps every span it is sent. */
async function startCollector(): Promise<{ url: string; spans: ReceivedSpan[]; raw: string[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = []
  const raw: string[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      raw.push(body)
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: { resource?: { attributes?: { key: string; value: OtlpValue }[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[] }
        for (const rs of doc.resourceSpans) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue
          for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, scope: ss.scope.name, service })
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, raw, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value

describe('OpenTelemetry tracing', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  it('is off unless OpenTelemetry\'s settings ask for it', () => {
    assert.equal(tracingRequested({}), false)
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'x' }), false)
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true)
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true)
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true)
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), false)
    assert.equal(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), false)
  })

  it('sends http, koa and pg spans over OTLP, without query strings, and puts the trace id in the request\'s log line', { skip: NEEDS_POSTGRES }, async () => {
    const collector = await startCollector()
    cleanups.push(collector.close)
    const schema = await createTestSchema()
    cleanups.push(schema.dropSchema)
    const port = await freePort()
    const server = await startServerProcess({
      ...schema.env, POSTCERT_MASTER_KEY: newMasterKey(), PORT: String(port), DATA_DIR: tempDir(),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none',
    })
    cleanups.push(() => server.stop())

    await fetch(`http://127.0.0.1:${port}/healthz`)
    assert.equal((await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration?code=secret-code-123`)).status, 200)
    assert.equal((await fetch(`http://127.0.0.1:${port}/pki/certificates/0abc`)).status, 404)

    const serverSpan = () => collector.spans.find((s) => s.kind === 2 && /\/pki\/certificates\/0abc/.test(JSON.stringify(s.attributes)))
    await until(() => serverSpan() !== undefined && collector.spans.some((s) => s.traceId === serverSpan()!.traceId && s.scope.includes('pg')), 'the certificate lookup\'s spans')
    const lookup = serverSpan()!
    assert.equal(lookup.service, 'postcert')
    const trace = collector.spans.filter((s) => s.traceId === lookup.traceId)
    assert.ok(trace.some((s) => s.scope.includes('instrumentation-koa')), `koa spans in ${trace.map((s) => `${s.scope}:${s.name}`).join(', ')}`)
    const query = trace.find((s) => s.scope.includes('instrumentation-pg') && /select/i.test(String(attribute(s, 'db.statement')?.stringValue ?? attribute(s, 'db.query.text')?.stringValue ?? s.name)))
    assert.ok(query, 'a pg span for the lookup')

    // No span for the probes, and no query string anywhere.
    await until(() => collector.spans.some((s) => s.kind === 2 && JSON.stringify(s.attributes).includes('openid-configuration')), 'the discovery span')
    assert.ok(!collector.spans.some((s) => JSON.stringify(s.attributes).includes('/healthz')), 'the health probe is not traced')
    assert.ok(!collector.raw.some((body) => body.includes('secret-code-123')), 'the query string is not exported')

    const line = server.output().split('\n').filter((l) => l.includes('"route":"pki_certificate"')).map((l) => JSON.parse(l) as Record<string, unknown>).at(-1)
    assert.ok(line, server.output().slice(-2000))
    assert.equal(line.trace_id, lookup.traceId)
    assert.equal(await server.stop(), 0)
  })
})
