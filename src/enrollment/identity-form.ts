import { koreanDate } from '../ca/days-left.ts'
import type { DocumentType } from '../db/schema/subscriber.ts'
import { invalidField } from './errors.ts'
import type { IdentityDocument } from './identity/identity-verifier.ts'

export const DOCUMENT_TYPES: readonly DocumentType[] = ['resident_card', 'driver_licence', 'passport']

/** Document number shapes, after removing spaces and hyphens. */
const NUMBER_FORMATS: Record<DocumentType, RegExp> = {
  resident_card: /^\d{13}$/,
  driver_licence: /^\d{12}$/,
  passport: /^[A-Z]{1,2}\d{7,8}$/,
}

/**
 * The identity form, checked field by field. Each problem names its field, so the page can
 * show the message next to it. The clock's today, in Korea, bounds the dates.
 */
export function parseIdentityForm(form: URLSearchParams, today: Date): IdentityDocument {
  const type = form.get('document_type') ?? ''
  if (!(DOCUMENT_TYPES as readonly string[]).includes(type)) throw invalidField('document_type', 'choose a document')
  const name = (form.get('name') ?? '').trim().replace(/\s+/g, ' ')
  if (!/^[\p{L}][\p{L} .'-]{0,39}$/u.test(name)) throw invalidField('name', 'letters only, up to 40')
  const birthdate = parseDate(form.get('birthdate'), 'birthdate', today)
  const number = (form.get('number') ?? '').toUpperCase().replace(/[\s-]/g, '')
  if (!NUMBER_FORMATS[type as DocumentType].test(number)) throw invalidField('number', `not a valid ${type} number`)
  if (type === 'resident_card' && number.slice(0, 6) !== birthdate.replace(/-/g, '').slice(2)) {
    throw invalidField('number', 'the first six digits must be the birth date')
  }
  const issueDate = parseDate(form.get('issue_date'), 'issue_date', today)
  if (issueDate < birthdate) throw invalidField('issue_date', 'before the birth date')
  return { type: type as DocumentType, name, birthdate, number, issueDate }
}

function parseDate(value: string | null, field: string, today: Date): string {
  const text = (value ?? '').trim()
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined
  if (!date || date.toISOString().slice(0, 10) !== text) throw invalidField(field, 'not a date (YYYY-MM-DD)')
  // Today as a date in Korea, where the document was issued and the subscriber is (09:00 in Seoul is midnight UTC).
  if (date.getUTCFullYear() < 1900 || text > koreanDate(today)) throw invalidField(field, 'out of range')
  return text
}

/** What may be kept of a document number: its last digits, for the subscriber to recognise it. */
export function lastDigits(number: string): string {
  return number.slice(-4)
}
