import type { IncomingMessage, ServerResponse } from 'node:http'
import type Provider from 'oidc-provider'
import type { Logger } from 'pino'
import type { ConstantAnswers } from '../http/constant-answers.ts'
import { isClientCaused } from '../http/error-handler.ts'
import type { SigningKeyStore } from '../keys/signing-keys.ts'
import type { Metrics } from '../ops/metrics.ts'

/** Events that mean a token was issued, and the metric label for each. */
const TOKEN_EVENTS: Record<string, string> = {
  'access_token.saved': 'access_token',
  'access_token.issued': 'access_token',
  'client_credentials.saved': 'client_credentials',
  'client_credentials.issued': 'client_credentials',
  'authorization_code.saved': 'authorization_code',
  'refresh_token.saved': 'refresh_token',
  'id_token.issued': 'id_token',
}

/**
 * Holds the live provider and swaps in a new one when the published signing keys change
 * (`postcert keys rotate` on any instance). oidc-provider takes its keys at construction; since
 * all state is in the database, a fresh instance picks up exactly where the old one was.
 * Requests already running finish on the instance they started on.
 */
export class ProviderHost {
  readonly #build: (jwks: Awaited<ReturnType<SigningKeyStore['publishedJwks']>>) => Provider
  readonly #keys: SigningKeyStore
  readonly #logger: Logger
  readonly #metrics: Metrics
  readonly #answers: ConstantAnswers | undefined
  #provider!: Provider
  #handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  #fingerprint = ''
  #mount: ((provider: Provider) => void) | undefined

  constructor(deps: {
    build: (jwks: Awaited<ReturnType<SigningKeyStore['publishedJwks']>>) => Provider
    keys: SigningKeyStore
    logger: Logger
    metrics: Metrics
    /** Discovery and the JWKS, answered without the app until the provider is rebuilt. */
    answers?: ConstantAnswers
  }) {
    this.#build = deps.build
    this.#keys = deps.keys
    this.#logger = deps.logger
    this.#metrics = deps.metrics
    this.#answers = deps.answers
  }

  get provider(): Provider {
    return this.#provider
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!this.#handler) throw new Error('no app mounted on the provider (routes.ts, mountRoutes)')
    if (this.#answers?.answer(req, res)) return
    this.#handler(req, res)
  }

  /** Puts the app (PostCert's middleware and routes) on the provider, now and on every rebuild. */
  mount(app: (provider: Provider) => void): void {
    if (this.#mount) throw new Error('an app is already mounted')
    this.#mount = app
    app(this.#provider)
    this.#handler = this.#provider.callback()
  }

  /** Builds the provider if the published keys changed since the last call; true if it did. */
  async refresh(): Promise<boolean> {
    const fingerprint = await this.#keys.fingerprint()
    if (fingerprint === this.#fingerprint) return false
    const provider = this.#build(await this.#keys.publishedJwks())
    for (const [event, type] of Object.entries(TOKEN_EVENTS)) provider.on(event as 'access_token.saved', () => this.#metrics.tokenIssued(type))
    provider.on('server_error', (ctx, err) => this.#logger.error({ err, reqId: ctx?.state?.requestId }, 'provider error'))
    // Koa's 'error' event (a response that could not be written, a connection that broke): without
    // a listener Koa prints the stack to stderr.
    ;(provider as unknown as NodeJS.EventEmitter).on('error', (err: Error, ctx?: { state?: { requestId?: string } }) => {
      if (isClientCaused(err)) this.#logger.debug({ reqId: ctx?.state?.requestId, error: err.message }, 'client connection error')
      else this.#logger.error({ err, reqId: ctx?.state?.requestId }, 'response failed')
    })
    provider.on('backchannel.success', (ctx, client) => this.#logger.info({ reqId: ctx?.state?.requestId, client: client.clientId }, 'back-channel logout delivered'))
    provider.on('backchannel.error', (ctx, err, client) => this.#logger.warn({ reqId: ctx?.state?.requestId, client: client.clientId, error: err.message }, 'back-channel logout failed'))
    const first = !this.#provider
    this.#mount?.(provider)
    this.#provider = provider
    if (this.#mount) this.#handler = provider.callback()
    // New keys: a new JWKS (and discovery is made again, by the new provider).
    this.#answers?.clear()
    this.#fingerprint = fingerprint
    if (!first) this.#logger.info({ keys: fingerprint }, 'signing keys changed; provider reloaded')
    return true
  }
}
