import type { Middleware } from 'koa'
import { methodNotAllowed } from '../errors/errors.ts'
import { cachePolicy, type Step } from './guards.ts'

export type { Step }

/** The bucket of routes whose path starts with a parameter (no literal first segment). */
const ANY_SEGMENT = '\u0000any'

interface Route {
  method: string
  path: string
  name: string
  pattern: RegExp
  keys: string[]
  steps: Step[]
}

/**
 * PostCert's own routes (everything that is not oidc-provider's). A path that matches no route
 * falls through to the provider; a known path with the wrong method is a 405. A route is a row:
 * method, path, name, then its steps (guards.ts), one of which declares its Cache-Control.
 */
export class Router {
  readonly #routes: Route[] = []
  /**
   * The routes by the literal first segment of their path: a request is matched against those of
   * its own first segment only, and a path of none (oidc-provider's) falls through at once.
   * Routes whose first segment is a parameter are under ANY_SEGMENT.
   */
  readonly #byFirstSegment = new Map<string, Route[]>()

  add(method: 'GET' | 'POST' | 'DELETE', path: string, name: string, ...steps: [Step, ...Step[]]): this {
    // A programming error, caught at start-up by every test that starts a server.
    if (steps.filter((step) => cachePolicy(step) !== undefined).length !== 1) throw new Error(`route ${name} (${method} ${path}) must declare exactly one cache policy (http/guards.ts)`)
    const keys: string[] = []
    const source = path
      .split(/(:\w+|\*\w+)/)
      .map((part) => {
        if (part.startsWith('*')) {
          // the rest of the path, any characters (e.g. base64 with slashes)
          keys.push(part.slice(1))
          return '(.{1,4096})'
        }
        if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        keys.push(part.slice(1))
        // One path segment of ids' characters (dots too: operator names); each route checks its own.
        return '([A-Za-z0-9._-]{1,128})'
      })
      .join('')
    const route = { method, path, name, pattern: new RegExp(`^${source}$`), keys, steps }
    this.#routes.push(route)
    const first = /^\/([^/:*]*)(?:\/|$)/.exec(path)?.[1] ?? ANY_SEGMENT
    const bucket = this.#byFirstSegment.get(first)
    if (bucket) bucket.push(route)
    else this.#byFirstSegment.set(first, [route])
    return this
  }

  /** The table: each route's method, path, name and Cache-Control. */
  table(): { method: string; path: string; name: string; cache: string }[] {
    return this.#routes.map((r) => ({ method: r.method, path: r.path, name: r.name, cache: r.steps.map(cachePolicy).find((p) => p !== undefined)! }))
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const slash = ctx.path.indexOf('/', 1)
      const first = ctx.path.slice(1, slash === -1 ? undefined : slash)
      const candidates = [...this.#byFirstSegment.get(first) ?? [], ...this.#byFirstSegment.get(ANY_SEGMENT) ?? []].filter((r) => r.pattern.test(ctx.path))
      if (candidates.length === 0) {
        await next()
        return
      }
      const method = ctx.method === 'HEAD' ? 'GET' : ctx.method
      const route = candidates.find((r) => r.method === method)
      ctx.state.route = (route ?? candidates[0]!).name
      if (!route) {
        ctx.set('Allow', [...new Set(candidates.map((r) => r.method))].join(', '))
        throw methodNotAllowed()
      }
      const match = route.pattern.exec(ctx.path)!
      const params = Object.fromEntries(route.keys.map((k, i) => [k, match[i + 1]!]))
      for (const step of route.steps) await step(ctx, params)
    }
  }
}
