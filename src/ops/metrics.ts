import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Prometheus metrics of one server: requests and latency by route, tokens issued by type. */
export class Metrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #duration: Histogram<'method' | 'route'>
  readonly #tokens: Counter<'type'>

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'postcert_' })
    this.#requests = new Counter({
      name: 'postcert_http_requests_total', help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'], registers: [this.registry],
    })
    this.#duration = new Histogram({
      name: 'postcert_http_request_duration_seconds', help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'], registers: [this.registry],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    })
    this.#tokens = new Counter({
      name: 'postcert_tokens_issued_total', help: 'Tokens issued by type',
      labelNames: ['type'], registers: [this.registry],
    })
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status: String(status) })
    this.#duration.observe({ method, route }, seconds)
  }

  tokenIssued(type: string): void {
    this.#tokens.inc({ type })
  }
}
