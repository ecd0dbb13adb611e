import type { Context } from 'koa'
import { MAX_FORM_BYTES } from '../constants.ts'
import { invalidRequest, payloadTooLarge, RequestError } from '../errors/errors.ts'

/** Reads an application/x-www-form-urlencoded body, refusing anything else or anything large. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw invalidRequest('expected a form (application/x-www-form-urlencoded)')
  return new URLSearchParams((await readBody(ctx, MAX_FORM_BYTES)).toString('utf8'))
}

/** The raw request body, refusing more than `limit` bytes before reading them all. */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > limit) throw payloadTooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > limit) throw payloadTooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** A JSON object body (application/json), refusing anything else or anything large. */
export async function readJson(ctx: Context, limit = 64 * 1024): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw invalidRequest('expected application/json')
  let value: unknown
  try {
    value = JSON.parse((await readBody(ctx, limit)).toString('utf8'))
  } catch (err) {
    if (err instanceof RequestError && err.kind === 'payload_too_large') throw err
    throw invalidRequest('the body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest('expected a JSON object')
  return value as Record<string, unknown>
}

/** A base64url string field of a JSON body, decoded; `max` bytes at most. */
export function base64urlField(body: Record<string, unknown>, name: string, max = 4096): Buffer {
  const value = body[name]
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value) || value.length > Math.ceil(max * 4 / 3)) {
    throw invalidRequest(`${name} must be base64url`)
  }
  return Buffer.from(value, 'base64url')
}

/** A query's parameters, each given once: a parameter given twice is a mistake, not a list. */
export function singleValues(query: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const single: Record<string, string | undefined> = {}
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw invalidRequest(`${key} is given more than once`)
    single[key] = value
  }
  return single
}
