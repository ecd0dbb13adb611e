import type { Middleware } from 'koa'
import { MAX_PUSHED_REQUEST_BYTES } from '../constants.ts'
import { readBody } from './form.ts'

/** What oidc-provider reads of a request body itself. */
const PROVIDER_BODY_LIMIT = 56 * 1024

/**
 * Long documents to sign travel in a pushed authorization request (PAR), often beyond what
 * oidc-provider reads of a body (56 KiB). Such a request's body is read here instead, up to
 * MAX_PUSHED_REQUEST_BYTES, and handed to oidc-provider already read (it uses request.body then,
 * and logs once that an upstream parser is in place). Smaller requests are left to it.
 */
export function pushedRequestBody(path: string): Middleware {
  return async (ctx, next) => {
    const declared = Number(ctx.get('content-length') || NaN)
    if (ctx.method === 'POST' && ctx.path === path && ctx.is('application/x-www-form-urlencoded') && !(declared <= PROVIDER_BODY_LIMIT)) {
      ;(ctx.request as { body?: unknown }).body = await readBody(ctx, MAX_PUSHED_REQUEST_BYTES)
    }
    await next()
  }
}
