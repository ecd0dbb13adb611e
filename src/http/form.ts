import type { Context } from 'koa'
import { MAX_FORM_BYTES } from '../constants.ts'
import { InvalidRequestError, PayloadTooLargeError } from '../errors/errors.ts'

/** Reads an application/x-www-form-urlencoded body, refusing anything else or anything large. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new InvalidRequestError('expected a form (application/x-www-form-urlencoded)')
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > MAX_FORM_BYTES) throw new PayloadTooLargeError()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > MAX_FORM_BYTES) throw new PayloadTooLargeError()
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
