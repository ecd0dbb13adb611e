import cluster from 'node:cluster'
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AuditEvent } from '../audit/audit-log.ts'

/** Routes where a refusal is a failed login (the proof of possession, the test-mode login). */
const LOGIN_ROUTES = new Set(['interaction_login_file', 'interaction_login_passkey', 'interaction_test_login'])
/** Error codes of a refusal by a lockout that is not a 429 (a phone code spent by wrong tries). */
const LOCKOUT_CODES = new Set(['code_exhausted', 'certificate_locked', 'too_many_attempts'])

/** The enrollment funnel: the route whose success (a redirect to the next step) completes each step. */
const FUNNEL: Record<string, string> = {
  enroll_start: 'started', enroll_phone_verify: 'phone_verified', enroll_identity_submit: 'identity_verified',
  enroll_holder_file: 'issued', enroll_holder_passkey: 'issued',
}
/** Which audit events are which issuance kind or status change. */
const ISSUANCE: Partial<Record<AuditEvent['type'], string>> = {
  'certificate.issued': 'new', 'certificate.renewed': 'renewal', 'certificate.reissued': 'reissue',
}
const STATUS: Partial<Record<AuditEvent['type'], string>> = {
  'certificate.revoked': 'revoked', 'certificate.suspended': 'suspended', 'certificate.resumed': 'resumed',
}

export type ProviderName = 'sms' | 'identity'

/**
 * Prometheus metrics of one server process. Node's and the process's own metrics carry their
 * standard names (process_*, nodejs_*), PostCert's the postcert_ prefix. Under node:cluster each
 * worker keeps its own and /metrics answers the sum over all workers (exposition()).
 */
export class Metrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #duration: Histogram<'method' | 'route'>
  readonly #errors: Counter<'route' | 'error'>
  readonly #tokens: Counter<'type'>
  readonly #logins: Counter<'holder'>
  readonly #loginFailures: Counter<'reason'>
  readonly #limited: Counter<'route' | 'reason'>
  readonly #enrollment: Counter<'step'>
  readonly #issued: Counter<'kind'>
  readonly #statusChanges: Counter<'status' | 'reason'>
  readonly #signatures: Counter<'holder'>
  readonly #providers: Histogram<'provider' | 'outcome'>
  #crlAge: (() => Promise<number | undefined>) | undefined
  #loginFailed: ((reason: string) => void) | undefined

  constructor() {
    collectDefaultMetrics({ register: this.registry })
    const registers = [this.registry]
    this.#requests = new Counter({ name: 'postcert_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers })
    this.#duration = new Histogram({
      name: 'postcert_http_request_duration_seconds', help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'], registers, buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    })
    this.#errors = new Counter({ name: 'postcert_http_errors_total', help: 'Requests answered with an error (4xx and 5xx), by route and error code', labelNames: ['route', 'error'], registers })
    this.#tokens = new Counter({ name: 'postcert_tokens_issued_total', help: 'Tokens issued by type', labelNames: ['type'], registers })
    this.#logins = new Counter({ name: 'postcert_logins_total', help: 'Certificate logins, by the holder of the key (passkey or file)', labelNames: ['holder'], registers })
    this.#loginFailures = new Counter({ name: 'postcert_login_failures_total', help: 'Refused login proofs by reason (the error code)', labelNames: ['reason'], registers })
    this.#limited = new Counter({ name: 'postcert_rate_limited_total', help: 'Requests refused by a rate limit or a lockout, by route and error code', labelNames: ['route', 'reason'], registers })
    this.#enrollment = new Counter({ name: 'postcert_enrollment_steps_total', help: 'The enrollment funnel: started, phone_verified, identity_verified, issued', labelNames: ['step'], registers })
    this.#issued = new Counter({ name: 'postcert_certificates_issued_total', help: 'Certificates issued: new (enrollment or another holder), renewal, reissue', labelNames: ['kind'], registers })
    this.#statusChanges = new Counter({ name: 'postcert_certificate_status_changes_total', help: 'Certificates revoked, suspended or resumed, by reason', labelNames: ['status', 'reason'], registers })
    this.#signatures = new Counter({ name: 'postcert_signatures_total', help: 'Electronic signatures made, by the holder of the key', labelNames: ['holder'], registers })
    this.#providers = new Histogram({
      name: 'postcert_provider_request_duration_seconds', help: 'Calls to the SMS gateway and the identity provider, by outcome (ok or error)',
      labelNames: ['provider', 'outcome'], registers, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    })
    const crlAge = () => this.#crlAge?.().catch(() => undefined)
    new Gauge({
      name: 'postcert_crl_age_seconds', help: 'Age of the published CRL (seconds since its thisUpdate); it is rebuilt after a change or when half a day old',
      registers, aggregator: 'max',
      async collect() {
        const age = await crlAge()
        if (age === undefined) this.reset()
        else this.set(age)
      },
    })
    if (cluster.isWorker) {
      // The supervisor asks each worker for its metrics (prom-client's cluster protocol) and sums them.
      new AggregatorRegistry()
      AggregatorRegistry.setRegistries([this.registry])
    }
  }

  /** Where the CRL gauge reads the published CRL's age in seconds (undefined before the first). */
  watchCrlAge(age: () => Promise<number | undefined>): void {
    this.#crlAge = age
  }

  /** Who else hears of each refused login, by reason (the console's daily tally). */
  watchLoginFailures(listener: (reason: string) => void): void {
    this.#loginFailed = listener
  }

  /** One finished request; `error` is the error code of a 4xx or 5xx answer. */
  observeRequest(method: string, route: string, status: number, seconds: number, error?: string): void {
    this.#requests.inc({ method, route, status: String(status) })
    this.#duration.observe({ method, route }, seconds)
    if (status < 400) {
      const step = FUNNEL[route]
      if (step) this.#enrollment.inc({ step })
      return
    }
    const code = error ?? 'unknown'
    this.#errors.inc({ route, error: code })
    if (LOGIN_ROUTES.has(route)) {
      this.#loginFailures.inc({ reason: code })
      this.#loginFailed?.(code)
    }
    if (status === 429 || LOCKOUT_CODES.has(code)) this.#limited.inc({ route, reason: code })
  }

  tokenIssued(type: string): void {
    this.#tokens.inc({ type })
  }

  /** An event written to the audit log: the domain's counters (counted as it is written). */
  audited(event: AuditEvent): void {
    const data = event.data ?? {}
    const holder = typeof data.holder === 'string' ? data.holder : 'unknown'
    if (event.type === 'login') this.#logins.inc({ holder })
    else if (event.type === 'signature') this.#signatures.inc({ holder })
    const kind = ISSUANCE[event.type]
    if (kind) this.#issued.inc({ kind })
    const status = STATUS[event.type]
    if (status) this.#statusChanges.inc({ status, reason: typeof data.reason === 'string' ? data.reason : 'unspecified' })
  }

  /** Times a call to an outside provider, counting it as an error when it throws. */
  async timeProvider<T>(provider: ProviderName, call: () => Promise<T>): Promise<T> {
    const end = this.#providers.startTimer({ provider })
    try {
      const result = await call()
      end({ outcome: 'ok' })
      return result
    } catch (err) {
      end({ outcome: 'error' })
      throw err
    }
  }

  /**
   * The text /metrics answers: this process's metrics, or under node:cluster every worker's,
   * summed by the supervisor (serveClusterMetrics).
   */
  async exposition(): Promise<string> {
    if (!cluster.isWorker || !process.send) return await this.registry.metrics()
    return await askSupervisor()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}

const COLLECT = 'postcert:metrics'
const COLLECTED = 'postcert:metrics-collected'
const COLLECT_TIMEOUT_MS = 5_000
let nextRequest = 0
const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>()
let listening = false

/** In a worker: the supervisor's sum of every worker's metrics. */
function askSupervisor(): Promise<string> {
  if (!listening) process.on('message', onCollected)
  listening = true
  const id = nextRequest++
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => settle(id, new Error('the supervisor did not send the metrics in time')), COLLECT_TIMEOUT_MS)
    waiting.set(id, {
      resolve: (text) => { clearTimeout(timer); resolve(text) },
      reject: (err) => { clearTimeout(timer); reject(err) },
    })
    process.send!({ type: COLLECT, id })
  })
}

function onCollected(message: unknown): void {
  const m = message as { type?: unknown; id?: unknown; text?: unknown; error?: unknown } | null
  if (m?.type !== COLLECTED || typeof m.id !== 'number') return
  settle(m.id, typeof m.text === 'string' ? m.text : new Error(String(m.error)))
}

function settle(id: number, outcome: string | Error): void {
  const entry = waiting.get(id)
  if (!entry) return
  waiting.delete(id)
  if (typeof outcome === 'string') entry.resolve(outcome)
  else entry.reject(outcome)
}

/** In the supervisor: answers a worker's request for the metrics with the sum over all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry()
  cluster.on('message', (worker, message: { type?: unknown; id?: unknown } | null) => {
    if (message?.type !== COLLECT) return
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: COLLECTED, id: message.id, text }),
      (err: Error) => worker.send({ type: COLLECTED, id: message.id, error: err.message }),
    )
  })
}
