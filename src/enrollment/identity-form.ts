import { koreanDate } from '../util/korean-time.ts'
import type { DocumentType } from '../db/schema/subscriber.ts'
import { invalidFields, type FieldProblem } from './errors.ts'
import type { IdentityDocument } from './identity/identity-verifier.ts'

export const DOCUMENT_TYPES: readonly DocumentType[] = ['resident_card', 'driver_licence', 'passport']

/** Document number shapes, after removing spaces and hyphens. */
const NUMBER_FORMATS: Record<DocumentType, RegExp> = {
  resident_card: /^\d{13}$/,
  driver_licence: /^\d{12}$/,
  passport: /^[A-Z]{1,2}\d{7,8}$/,
}

/** What each document type's number problem is called (its message, `enroll.problem.<name>`). */
const NUMBER_PROBLEMS: Record<DocumentType, string> = {
  resident_card: 'resident_number',
  driver_licence: 'driver_licence_number',
  passport: 'passport_number',
}

/**
 * The identity form, checked field by field, every field: all its problems are refused together
 * (InvalidFieldsError), each naming its field and what to fix, so the page shows each beside its
 * field and the subscriber fixes them in one go. A check that needs another field (the resident
 * number's birth date, the issue date after the birth date) is made only when that field is good.
 * A resident card's number comes in two boxes (`number_front`, the six digits of the birth date,
 * and `number_back`, masked), or as one `number`. The clock's today, in Korea, bounds the dates.
 */
export function parseIdentityForm(form: URLSearchParams, today: Date): IdentityDocument {
  const problems: FieldProblem[] = []
  const problem = (field: string, code: string, why: string): undefined => { problems.push({ field, problem: code, why }) }

  const typed = form.get('document_type') ?? ''
  const type = (DOCUMENT_TYPES as readonly string[]).includes(typed) ? typed as DocumentType : undefined
  if (!type) problem('document_type', 'choose_document', 'choose a document')
  const name = (form.get('name') ?? '').trim().replace(/\s+/g, ' ')
  if (!/^[\p{L}][\p{L} .'-]{0,39}$/u.test(name)) problem('name', 'name_letters', 'letters only, up to 40')
  const birthdate = readDate(form.get('birthdate'), 'birthdate', today, problem)
  const number = type && readNumber(form, type)
  if (type && number !== undefined) {
    if (!NUMBER_FORMATS[type].test(number)) problem('number', NUMBER_PROBLEMS[type], `not a valid ${type} number`)
    else if (type === 'resident_card' && birthdate && number.slice(0, 6) !== birthdate.replace(/-/g, '').slice(2)) {
      problem('number', 'resident_number_birthdate', 'the first six digits must be the birth date')
    }
  }
  const issueDate = readDate(form.get('issue_date'), 'issue_date', today, problem)
  if (issueDate && birthdate && issueDate < birthdate) problem('issue_date', 'issue_before_birth', 'before the birth date')
  if (problems.length || !type || !birthdate || !issueDate || number === undefined) throw invalidFields(problems)
  return { type, name, birthdate, number, issueDate }
}

/** The document number without spaces and hyphens; a resident card's from its two boxes when they were sent. */
function readNumber(form: URLSearchParams, type: DocumentType): string {
  const clean = (value: string | null) => (value ?? '').toUpperCase().replace(/[\s-]/g, '')
  if (type === 'resident_card' && (form.has('number_front') || form.has('number_back'))) {
    const front = clean(form.get('number_front'))
    const back = clean(form.get('number_back'))
    // Each box its own length: 12345-6789012 is not a resident number split at the wrong place.
    return front.length === 6 && back.length === 7 ? front + back : `${front}/${back}`
  }
  return clean(form.get('number'))
}

function readDate(value: string | null, field: string, today: Date, problem: (field: string, code: string, why: string) => undefined): string | undefined {
  const text = (value ?? '').trim()
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined
  if (!date || date.toISOString().slice(0, 10) !== text) return problem(field, 'date_format', 'not a date (YYYY-MM-DD)')
  // Today as a date in Korea, where the document was issued and the subscriber is (09:00 in Seoul is midnight UTC).
  if (date.getUTCFullYear() < 1900 || text > koreanDate(today)) return problem(field, 'date_range', 'out of range')
  return text
}

/** What may be kept of a document number: its last digits, for the subscriber to recognise it. */
export function lastDigits(number: string): string {
  return number.slice(-4)
}
