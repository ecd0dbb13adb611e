import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import type { Metrics } from '../ops/metrics.ts'
import { recordRequest, requestIdOf } from './request-context.ts'

/** The provider's routes whose answer is the same for every request while the provider lives, by path. */
const CONSTANT_ROUTES = new Map([['/.well-known/openid-configuration', 'discovery'], ['/jwks', 'jwks']])

/** Headers that belong to one answer, not to the document: never kept. */
const PER_REQUEST = new Set(['x-request-id', 'content-length', 'date', 'connection', 'keep-alive', 'set-cookie'])

interface Kept {
  route: string
  headers: OutgoingHttpHeaders
  body: Buffer
}

/**
 * Discovery and the JWKS are the same for every request until the provider is rebuilt (new signing
 * keys, ProviderHost.refresh): the first answer is made by the whole app and kept as bytes (`keep`,
 * a middleware that sees the answer as it leaves); later plain GETs of the same path are written
 * straight from them (`answer`, before Koa), with the same headers, a request id of their own,
 * the same metrics and the same log line, without the app's middleware or oidc-provider. Anything
 * else goes through the app: another method, a query string, a request that is not known to have
 * come over https when the issuer is https, and anything while nothing is kept. `clear` forgets
 * everything, and an answer made by a provider older than the last `clear` is not kept.
 */
export class ConstantAnswers {
  readonly #logger: Logger
  readonly #metrics: Metrics
  readonly #trustProxy: boolean
  readonly #https: boolean
  readonly #kept = new Map<string, Kept>()
  #generation = 0
  /** Answers written from what is kept (tests look). */
  served = 0

  constructor(deps: { logger: Logger; metrics: Metrics; trustProxy: boolean; https: boolean }) {
    this.#logger = deps.logger
    this.#metrics = deps.metrics
    this.#trustProxy = deps.trustProxy
    this.#https = deps.https
  }

  /** Writes the kept answer for this request, if there is one; false: the app answers it. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || this.#kept.size === 0) return false
    const kept = this.#kept.get(req.url ?? '')
    if (!kept || !this.#asTheAppWould(req)) return false
    const started = process.hrtime.bigint()
    const requestId = requestIdOf(req.headers['x-request-id'], this.#trustProxy)
    res.once('close', () => {
      recordRequest(this.#logger, this.#metrics, { requestId, method: 'GET', route: kept.route, path: req.url!, status: res.writableFinished ? 200 : 499, started })
    })
    res.writeHead(200, { 'X-Request-Id': requestId, ...kept.headers, 'Content-Length': kept.body.length })
    res.end(kept.body)
    this.served++
    return true
  }

  /** Koa middleware, the provider's outermost (oidc/provider.ts): keeps the answer of a constant route as it finally leaves. */
  keep(): Middleware {
    return async (ctx, next) => {
      const route = ctx.method === 'GET' && !ctx.querystring ? CONSTANT_ROUTES.get(ctx.path) : undefined
      const generation = this.#generation
      await next()
      if (route === undefined || ctx.status !== 200 || generation !== this.#generation || (ctx as { oidc?: { route?: string } }).oidc?.route !== route) return
      const body: unknown = ctx.body
      if (!body || typeof body !== 'object' || Buffer.isBuffer(body)) return
      const headers: OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(ctx.response.headers)) if (!PER_REQUEST.has(name.toLowerCase())) headers[name] = value
      this.#kept.set(ctx.path, { route, headers, body: Buffer.from(JSON.stringify(body)) })
    }
  }

  /** Forgets what is kept (the provider was rebuilt). */
  clear(): void {
    this.#generation++
    this.#kept.clear()
  }

  /**
   * Whether the app would answer this request with the document: behind a trusted proxy,
   * X-Forwarded-Proto is absent, or exactly http or https (publicOrigin refuses anything else);
   * with an https issuer it must say https (requireHttps: this server speaks plain HTTP, so only
   * the trusted proxy can say so). Anything else goes to the app, which answers its error.
   */
  #asTheAppWould(req: IncomingMessage): boolean {
    if (!this.#trustProxy) return !this.#https
    const proto = req.headers['x-forwarded-proto']
    if (proto === undefined) return !this.#https
    const value = typeof proto === 'string' ? proto.trim().toLowerCase() : ''
    return value === 'https' || (value === 'http' && !this.#https)
  }
}
