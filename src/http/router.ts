import type { Context, Middleware } from 'koa'
import { MethodNotAllowedError } from '../errors/errors.ts'

export type Handler = (ctx: Context, params: Record<string, string>) => Promise<void> | void

interface Route {
  method: string
  name: string
  pattern: RegExp
  keys: string[]
  handler: Handler
}

/**
 * PostCert's own routes (everything that is not oidc-provider's). A path that matches no route
 * falls through to the provider; a known path with the wrong method is a 405.
 */
export class Router {
  readonly #routes: Route[] = []

  add(method: 'GET' | 'POST', path: string, name: string, handler: Handler): this {
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
        return '([A-Za-z0-9_-]{1,128})'
      })
      .join('')
    this.#routes.push({ method, name, pattern: new RegExp(`^${source}$`), keys, handler })
    return this
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const candidates = this.#routes.filter((r) => r.pattern.test(ctx.path))
      if (candidates.length === 0) return await next()
      const method = ctx.method === 'HEAD' ? 'GET' : ctx.method
      const route = candidates.find((r) => r.method === method)
      ctx.state.route = (route ?? candidates[0]!).name
      if (!route) {
        ctx.set('Allow', [...new Set(candidates.map((r) => r.method))].join(', '))
        throw new MethodNotAllowedError()
      }
      const match = route.pattern.exec(ctx.path)!
      const params = Object.fromEntries(route.keys.map((k, i) => [k, match[i + 1]!]))
      await route.handler(ctx, params)
    }
  }
}
