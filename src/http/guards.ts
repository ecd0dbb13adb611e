import type { Context } from 'koa'

/**
 * One step of a route: a guard that loads, checks or sets something before the handler (it may
 * throw, and then nothing after it runs), or the handler itself, last. A route is a row of such
 * steps (router.ts), read left to right, after node-oidc-provider's endpoint tables.
 */
export type Step = (ctx: Context, params: Record<string, string>) => Promise<void> | void

const POLICY = Symbol('Cache-Control')

export interface CacheStep extends Step {
  readonly [POLICY]: string
}

/**
 * The route's Cache-Control, declared in its row: every route names exactly one (the router
 * refuses a route without), so no answer is cached by accident and none is left to a handler
 * remembering a header. Errors are never stored whatever the route says (error-handler.ts).
 */
export function cache(policy: 'no-store' | 'no-cache' | `public, max-age=${number}`): CacheStep {
  const step: Step = (ctx) => { ctx.set('Cache-Control', policy) }
  return Object.assign(step, { [POLICY]: policy })
}

/** Personal data, single-use values, anything a form or script posts: never stored anywhere. */
export const noStore = cache('no-store')

/** Public but changing at any moment (status, the CRL, the pages' scripts): stored, revalidated each time. */
export const revalidate = cache('no-cache')

/**
 * An answer that says itself how long it holds (a pre-signed OCSP response): never stored, unless
 * the handler gives that window with `storeUntil`; then public until it ends.
 */
export const untilItExpires: CacheStep = Object.assign(((ctx) => { ctx.set('Cache-Control', 'no-store') }) as Step, {
  [POLICY]: 'public, max-age=<until the answer expires>, no-transform, must-revalidate',
})

/** On a route declared `untilItExpires`: the answer may be stored (RFC 5019 6.2) for its remaining `secondsLeft`. */
export function storeUntil(ctx: Context, answer: { thisUpdate: Date; nextUpdate: Date; secondsLeft: number; etag: string }): void {
  ctx.set('Cache-Control', `public, max-age=${answer.secondsLeft}, no-transform, must-revalidate`)
  ctx.set('Last-Modified', answer.thisUpdate.toUTCString())
  ctx.set('Expires', answer.nextUpdate.toUTCString())
  ctx.set('ETag', `"${answer.etag}"`)
}

/** The Cache-Control a step declares, if it is a cache step. */
export const cachePolicy = (step: Step): string | undefined => (step as Partial<CacheStep>)[POLICY]

/**
 * A value a guard loads for the steps after it (the session, the interaction), kept on the
 * request under a key of its own. Reading it where no guard loaded it is a programming error.
 */
export function slot<T>(name: string): { set(ctx: Context, value: T): void; get(ctx: Context): T } {
  const key = Symbol(name)
  return {
    set: (ctx, value) => { (ctx.state as Record<symbol, unknown>)[key] = value },
    get: (ctx) => {
      const state = ctx.state as Record<symbol, unknown>
      if (!(key in state)) throw new Error(`${name} was not loaded: the route lacks its guard`)
      return state[key] as T
    },
  }
}
