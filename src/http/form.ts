import type { Context } from 'koa'
import { MAX_FORM_BYTES } from '../constants.ts'
import { InvalidRequestError, PayloadTooLargeError } from '../errors/errors.ts'

/** Reads an application/x-www-form-urlencoded body, refusing anything else or anything large. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new InvalidRequestError('expected a form (application/x-www-form-urlencoded)')
  return new URLSearchParams((await readBody(ctx, MAX_FORM_BYTES)).toString('utf8'))
}

/** The raw request body, refusing more than `limit` bytes before reading them all. */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > limit) throw new PayloadTooLargeError()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new PayloadTooLargeError()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
