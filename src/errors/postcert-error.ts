import { isDatabaseUnavailable } from '../db/unavailable.ts'

/**
 * The one error model. `code` is an OAuth-style `error` value, `description` its
 * `error_description`. Errors with status < 500 are exposed to the caller as they are; anything
 * else is reported as a bare `server_error` so internals never leak.
 */
export class PostCertError extends Error {
  readonly status: number
  readonly code: string
  readonly description: string
  /** Where a browser should go next, shown on the error page (message key of the link text). */
  link: { href: string; key: string } | undefined

  constructor(status: number, code: string, description: string, options?: ErrorOptions) {
    super(description, options)
    this.name = new.target.name
    this.status = status
    this.code = code
    this.description = description
  }

  get expose(): boolean {
    return this.status < 500
  }

  toJSON(): { error: string; error_description: string } {
    return this.expose
      ? { error: this.code, error_description: this.description }
      : { error: 'server_error', error_description: 'the server could not complete the request' }
  }

  /**
   * Any thrown value as a PostCertError: the database down or too slow is a 503 the caller may
   * retry; unknown errors become a 500 that hides its message.
   */
  static from(err: unknown): PostCertError {
    if (err instanceof PostCertError) return err
    if (isDatabaseUnavailable(err)) return new DatabaseUnavailableError({ cause: err })
    const status = (err as { status?: unknown; expose?: unknown } | null)?.status
    // koa's own http errors (bad JSON, body too large, ...) carry a 4xx status and are safe to show.
    if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: unknown }).expose) {
      return new PostCertError(status, status === 404 ? 'not_found' : 'invalid_request', (err as Error).message, { cause: err })
    }
    return new ServerError('internal error', { cause: err })
  }
}

/**
 * The database is down, unreachable or too slow: 503 temporarily_unavailable, with Retry-After.
 * Thrown by the database layer itself (connect.ts), so oidc-provider's endpoints answer it too:
 * it carries the shape oidc-provider renders (`message` the error code, `error_description`,
 * `statusCode`, `expose`).
 */
export class DatabaseUnavailableError extends PostCertError {
  readonly statusCode = 503
  readonly error_description: string

  constructor(options?: ErrorOptions) {
    super(503, 'temporarily_unavailable', 'the database is unavailable: try again in a few seconds', options)
    this.error_description = this.description
    this.message = this.code
  }

  override get expose(): boolean {
    return true
  }
}

export class ServerError extends PostCertError {
  constructor(description = 'internal error', options?: ErrorOptions) {
    super(500, 'server_error', description, options)
  }
}

/** An error's HTTP status, and its wire code when it is not the error's name (several errors may share one OAuth code). */
export type ErrorSpec = number | { status: number; code: string }

/**
 * The one way to declare errors: a domain lists its errors by name with their HTTP status (and
 * wire code, when another) in one typed map, and gets one class whose constructor takes a name
 * of that map. Throw sites call the domain's small factories, which write the description;
 * `codes` lists the names (the pages' scripts get a message for each, views/locales `error.<code>`).
 * A form step's error may name the field it is shown beside and the values its message needs.
 * The two fallbacks above (ServerError, DatabaseUnavailableError) are made by PostCertError.from only.
 */
export function errorDomain<const Specs extends Record<string, ErrorSpec>>(specs: Specs) {
  type Name = keyof Specs & string
  return class DomainError extends PostCertError {
    static readonly codes = Object.keys(specs) as Name[]
    /** Which error of the domain this is (its wire code may be shared with others). */
    readonly kind: Name
    /** Values for the page's message (views/locales). */
    readonly params: Record<string, string | number>
    /** The form field the message is shown beside. */
    readonly field: string | undefined

    constructor(kind: Name, description: string, options?: ErrorOptions & { params?: Record<string, string | number>; field?: string }) {
      const spec = specs[kind] as ErrorSpec
      super(typeof spec === 'number' ? spec : spec.status, typeof spec === 'number' ? kind : spec.code, description, options)
      this.kind = kind
      this.params = options?.params ?? {}
      this.field = options?.field
    }
  }
}
