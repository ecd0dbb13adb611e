import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidFieldsError } from '../../src/enrollment/errors.ts'
import { DOCUMENT_TYPES, lastDigits, parseIdentityForm } from '../../src/enrollment/identity-form.ts'

/** The clock's today: noon UTC, so that a date written as today is not after it. */
const TODAY = new Date('2025-06-15T12:00:00Z')

const RESIDENT_CARD = { document_type: 'resident_card', name: '홍길동', birthdate: '1990-01-02', number: '900102-1234567', issue_date: '2010-03-04' }
const DRIVER_LICENCE = { document_type: 'driver_licence', name: 'Kim Min-jun', birthdate: '1985-11-30', number: '11-23-456789-01', issue_date: '2005-07-08' }
const PASSPORT = { document_type: 'passport', name: 'Lee Seo-yeon', birthdate: '1975-05-05', number: 'M12345678', issue_date: '2020-02-20' }

const form = (base: Record<string, string>, changes: Record<string, string | undefined> = {}) => {
  const fields = new URLSearchParams()
  for (const [key, value] of Object.entries({ ...base, ...changes })) if (value !== undefined) fields.set(key, value)
  return fields
}

/**
 * parseIdentityForm refuses `fields` with one 400 invalid_field listing every problem, in the
 * form's order, each naming its field with `why` (the description: `field: why; field: why`).
 */
function refusesAll(fields: URLSearchParams, problems: [field: string, why: string][], today = TODAY): void {
  assert.throws(() => parseIdentityForm(fields, today), (err: unknown) => {
    assert.ok(err instanceof InvalidFieldsError, `an InvalidFieldsError, not ${String(err)}`)
    const description = problems.map(([field, why]) => `${field}: ${why}`).join('; ')
    assert.deepEqual(
      { status: err.status, code: err.code, description: err.description, field: err.field, problems: err.problems.map((p) => [p.field, p.why]) },
      { status: 400, code: 'invalid_field', description, field: problems[0]![0], problems },
    )
    return true
  })
}

/** The one problem of `fields`. */
const refuses = (fields: URLSearchParams, field: string, why: string, today = TODAY) => refusesAll(fields, [[field, why]], today)

describe('the identity form', () => {
  describe('every problem at once (#17)', () => {
    it('lists each field that needs fixing, in the form\'s order, not only the first', () => {
      refusesAll(form(RESIDENT_CARD, { document_type: 'visa', name: '1', birthdate: '1990-02-30', number: '12', issue_date: '2099-01-01' }), [
        ['document_type', 'choose a document'], ['name', 'letters only, up to 40'], ['birthdate', 'not a date (YYYY-MM-DD)'], ['issue_date', 'out of range'],
      ])
      refusesAll(form(RESIDENT_CARD, { name: '', number: '12' }), [['name', 'letters only, up to 40'], ['number', 'not a valid resident_card number']])
    })

    it('gives each problem the message that says what to fix', () => {
      const problems = (changes: Record<string, string>) => {
        try {
          parseIdentityForm(form(RESIDENT_CARD, changes), TODAY)
        } catch (err) {
          return (err as InvalidFieldsError).problems.map((p) => `${p.field}:${p.problem}`)
        }
        return []
      }
      assert.deepEqual(problems({ document_type: '' }), ['document_type:choose_document'])
      assert.deepEqual(problems({ name: '' }), ['name:name_letters'])
      assert.deepEqual(problems({ birthdate: '1990.01.02' }), ['birthdate:date_format'])
      assert.deepEqual(problems({ birthdate: '1899-01-02' }), ['birthdate:date_range'])
      assert.deepEqual(problems({ number: '12' }), ['number:resident_number'])
      assert.deepEqual(problems({ number: '900103-1234567' }), ['number:resident_number_birthdate'])
      assert.deepEqual(problems({ issue_date: '1980-01-01' }), ['issue_date:issue_before_birth'])
      assert.deepEqual(problems({ document_type: 'driver_licence', number: '12' }), ['number:driver_licence_number'])
      assert.deepEqual(problems({ document_type: 'passport', number: '12' }), ['number:passport_number'])
    })
  })

  describe('the resident number in two boxes, the back one masked (#17)', () => {
    const split = (front: string | undefined, back: string | undefined, base = RESIDENT_CARD) => form(base, { number: undefined, number_front: front, number_back: back })

    it('joins the six digits of the birth date and the seven after them', () => {
      assert.equal(parseIdentityForm(split('900102', '1234567'), TODAY).number, '9001021234567')
      assert.equal(parseIdentityForm(split(' 900102 ', '1234567 '), TODAY).number, '9001021234567')
    })

    it('refuses either part missing or of the wrong length', () => {
      for (const [front, back] of [['900102', ''], ['', '1234567'], ['90010', '1234567'], ['900102', '123456'], ['900102', undefined]] as const) {
        refuses(split(front, back), 'number', 'not a valid resident_card number')
      }
    })

    it('is read for a resident card only: another document\'s number is the one field', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { number_front: '750505', number_back: '1234567' }), TODAY).number, 'M12345678')
      refuses(form(PASSPORT, { number: undefined, number_front: '750505', number_back: '1234567' }), 'number', 'not a valid passport number')
    })
  })

  describe('a valid form', () => {
    it('reads a resident card, with the number stripped of spaces and hyphens', () => {
      assert.deepEqual(parseIdentityForm(form(RESIDENT_CARD), TODAY), {
        type: 'resident_card', name: '홍길동', birthdate: '1990-01-02', number: '9001021234567', issueDate: '2010-03-04',
      })
    })

    it('reads a driver licence', () => {
      assert.deepEqual(parseIdentityForm(form(DRIVER_LICENCE), TODAY), {
        type: 'driver_licence', name: 'Kim Min-jun', birthdate: '1985-11-30', number: '112345678901', issueDate: '2005-07-08',
      })
    })

    it('reads a passport, upper-casing its letters', () => {
      assert.deepEqual(parseIdentityForm(form(PASSPORT, { number: 'm 1234-5678' }), TODAY), {
        type: 'passport', name: 'Lee Seo-yeon', birthdate: '1975-05-05', number: 'M12345678', issueDate: '2020-02-20',
      })
    })

    it('offers exactly the three document types', () => {
      assert.deepEqual([...DOCUMENT_TYPES], ['resident_card', 'driver_licence', 'passport'])
    })
  })

  describe('document_type', () => {
    it('refuses a form without a document type', () => {
      refuses(form(RESIDENT_CARD, { document_type: undefined }), 'document_type', 'choose a document')
      refuses(form(RESIDENT_CARD, { document_type: '' }), 'document_type', 'choose a document')
    })

    it('refuses a document type it does not know, or spelt otherwise', () => {
      for (const type of ['id_card', 'PASSPORT', ' passport', 'passport ', 'toString', '__proto__']) {
        refuses(form(PASSPORT, { document_type: type }), 'document_type', 'choose a document')
      }
    })
  })

  describe('name', () => {
    it('trims the name and collapses its runs of white space into one space', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { name: '  Lee \t Seo-yeon\n ' }), TODAY).name, 'Lee Seo-yeon')
      assert.equal(parseIdentityForm(form(RESIDENT_CARD, { name: '홍\u3000길동' }), TODAY).name, '홍 길동')
    })

    it('takes letters of any script, and after the first letter spaces, dots, apostrophes and hyphens', () => {
      for (const name of ['홍', 'O\'Brien', 'J. R. R. Tolkien', 'Jean-Luc', 'José Müller', '王小明']) {
        assert.equal(parseIdentityForm(form(PASSPORT, { name }), TODAY).name, name)
      }
    })

    it('refuses a missing or blank name', () => {
      refuses(form(PASSPORT, { name: undefined }), 'name', 'letters only, up to 40')
      refuses(form(PASSPORT, { name: '' }), 'name', 'letters only, up to 40')
      refuses(form(PASSPORT, { name: ' \t\n ' }), 'name', 'letters only, up to 40')
    })

    it('refuses a name that does not start with a letter', () => {
      for (const name of ['-Kim', '.Kim', '\'Kim', '1Kim']) refuses(form(PASSPORT, { name }), 'name', 'letters only, up to 40')
    })

    it('refuses digits, markup and other punctuation in a name', () => {
      for (const name of ['Kim 2', 'Kim_Lee', '<script>alert(1)</script>', 'Kim"', 'Kim;', 'Kim@example', 'Kim & Lee']) {
        refuses(form(PASSPORT, { name }), 'name', 'letters only, up to 40')
      }
    })

    it('takes a name of exactly 40 letters and refuses one of 41', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { name: 'A'.repeat(40) }), TODAY).name, 'A'.repeat(40))
      assert.equal(parseIdentityForm(form(PASSPORT, { name: '김'.repeat(40) }), TODAY).name, '김'.repeat(40))
      refuses(form(PASSPORT, { name: 'A'.repeat(41) }), 'name', 'letters only, up to 40')
      refuses(form(PASSPORT, { name: '김'.repeat(41) }), 'name', 'letters only, up to 40')
    })

    it('counts the 40 after collapsing white space', () => {
      const name = `${'A'.repeat(19)}     ${'B'.repeat(20)}` // 44 as typed, 40 once collapsed
      assert.equal(parseIdentityForm(form(PASSPORT, { name }), TODAY).name, `${'A'.repeat(19)} ${'B'.repeat(20)}`)
    })
  })

  describe('birthdate and issue_date', () => {
    it('refuses a missing date', () => {
      refuses(form(PASSPORT, { birthdate: undefined }), 'birthdate', 'not a date (YYYY-MM-DD)')
      refuses(form(PASSPORT, { issue_date: undefined }), 'issue_date', 'not a date (YYYY-MM-DD)')
    })

    it('refuses a date not written as YYYY-MM-DD', () => {
      for (const birthdate of ['1975-5-5', '1975/05/05', '19750505', '05-05-1975', '1975-05-05T00:00:00Z', '75-05-05', '+1975-05-05', 'yesterday']) {
        refuses(form(PASSPORT, { birthdate }), 'birthdate', 'not a date (YYYY-MM-DD)')
      }
      refuses(form(PASSPORT, { issue_date: '2020.02.20' }), 'issue_date', 'not a date (YYYY-MM-DD)')
    })

    it('refuses a day the calendar does not have', () => {
      for (const birthdate of ['1975-02-29', '1975-04-31', '1975-13-01', '1975-00-10', '1975-05-00', '1975-05-32']) {
        refuses(form(PASSPORT, { birthdate }), 'birthdate', 'not a date (YYYY-MM-DD)')
      }
      assert.equal(parseIdentityForm(form(PASSPORT, { birthdate: '1976-02-29' }), TODAY).birthdate, '1976-02-29', 'a leap day')
    })

    it('trims the white space around a date', () => {
      const document = parseIdentityForm(form(PASSPORT, { birthdate: ' 1975-05-05 ', issue_date: '\t2020-02-20\n' }), TODAY)
      assert.equal(document.birthdate, '1975-05-05')
      assert.equal(document.issueDate, '2020-02-20')
    })

    it('takes 1900-01-01 and refuses a birth date before 1900', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { birthdate: '1900-01-01' }), TODAY).birthdate, '1900-01-01')
      refuses(form(PASSPORT, { birthdate: '1899-12-31' }), 'birthdate', 'out of range')
      refuses(form(PASSPORT, { birthdate: '0999-01-01' }), 'birthdate', 'out of range')
    })

    it('takes a birth date of today and refuses one in the future', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { birthdate: '2025-06-15', issue_date: '2025-06-15' }), TODAY).birthdate, '2025-06-15')
      refuses(form(PASSPORT, { birthdate: '2025-06-16' }), 'birthdate', 'out of range')
      refuses(form(PASSPORT, { birthdate: '2999-01-01' }), 'birthdate', 'out of range')
    })

    it('takes an issue date of today and refuses one in the future', () => {
      assert.equal(parseIdentityForm(form(PASSPORT, { issue_date: '2025-06-15' }), TODAY).issueDate, '2025-06-15')
      refuses(form(PASSPORT, { issue_date: '2025-06-16' }), 'issue_date', 'out of range')
    })

    it('bounds the dates by the today it is given, not by the machine clock', () => {
      const past = new Date('2000-01-01T12:00:00Z')
      refusesAll(form(PASSPORT), [['birthdate', 'out of range'], ['issue_date', 'out of range']], new Date('1975-05-04T12:00:00Z'))
      refuses(form(PASSPORT, { issue_date: '2000-01-02' }), 'issue_date', 'out of range', past)
      assert.equal(parseIdentityForm(form(PASSPORT, { issue_date: '2000-01-01' }), past).issueDate, '2000-01-01')
    })

    it('counts today in Korea: a document issued today in Seoul is taken before 09:00, when it is still yesterday in UTC', () => {
      const seoulMidnight = new Date('1999-12-31T15:00:00Z') // 2000-01-01 00:00 in Seoul
      assert.equal(parseIdentityForm(form(PASSPORT, { issue_date: '2000-01-01' }), seoulMidnight).issueDate, '2000-01-01', 'today at its first instant')
      assert.equal(parseIdentityForm(form(PASSPORT, { issue_date: '2000-01-01' }), new Date('1999-12-31T23:59:59.999Z')).issueDate, '2000-01-01', '08:59 in Seoul')
      refuses(form(PASSPORT, { issue_date: '2000-01-01' }), 'issue_date', 'out of range', new Date('1999-12-31T14:59:59.999Z'))
    })

    it('refuses an issue date before the birth date, and takes one on the birth date', () => {
      refuses(form(PASSPORT, { issue_date: '1975-05-04' }), 'issue_date', 'before the birth date')
      assert.equal(parseIdentityForm(form(PASSPORT, { issue_date: '1975-05-05' }), TODAY).issueDate, '1975-05-05')
    })

    it('refuses an issue date before 1900 as out of range, before comparing it with the birth date', () => {
      refuses(form(PASSPORT, { birthdate: '1900-01-01', issue_date: '1899-12-31' }), 'issue_date', 'out of range')
    })
  })

  describe('number', () => {
    it('refuses a missing number, naming the document type', () => {
      refuses(form(RESIDENT_CARD, { number: undefined }), 'number', 'not a valid resident_card number')
      refuses(form(DRIVER_LICENCE, { number: '' }), 'number', 'not a valid driver_licence number')
      refuses(form(PASSPORT, { number: ' - ' }), 'number', 'not a valid passport number')
    })

    it('takes a resident card number of exactly 13 digits', () => {
      assert.equal(parseIdentityForm(form(RESIDENT_CARD, { number: '9001021234567' }), TODAY).number, '9001021234567')
      assert.equal(parseIdentityForm(form(RESIDENT_CARD, { number: ' 900 102 - 123 4567 ' }), TODAY).number, '9001021234567')
      refuses(form(RESIDENT_CARD, { number: '900102-123456' }), 'number', 'not a valid resident_card number')
      refuses(form(RESIDENT_CARD, { number: '900102-12345678' }), 'number', 'not a valid resident_card number')
      refuses(form(RESIDENT_CARD, { number: '900102-123456A' }), 'number', 'not a valid resident_card number')
      refuses(form(RESIDENT_CARD, { number: '900102_1234567' }), 'number', 'not a valid resident_card number')
    })

    it('refuses a resident card number whose first six digits are not the birth date (YYMMDD)', () => {
      refuses(form(RESIDENT_CARD, { number: '900103-1234567' }), 'number', 'the first six digits must be the birth date')
      refuses(form(RESIDENT_CARD, { number: '19900102-12345' }), 'number', 'the first six digits must be the birth date')
      assert.equal(parseIdentityForm(form(RESIDENT_CARD, { birthdate: '2001-12-31', number: '011231-3456789' }), TODAY).number, '0112313456789')
    })

    it('does not ask a driver licence or passport number to start with the birth date', () => {
      assert.equal(parseIdentityForm(form(DRIVER_LICENCE, { number: '000000000000' }), TODAY).number, '000000000000')
      assert.equal(parseIdentityForm(form(PASSPORT, { number: 'M0000000' }), TODAY).number, 'M0000000')
    })

    it('takes a driver licence number of exactly 12 digits', () => {
      refuses(form(DRIVER_LICENCE, { number: '11-23-456789-0' }), 'number', 'not a valid driver_licence number')
      refuses(form(DRIVER_LICENCE, { number: '11-23-456789-012' }), 'number', 'not a valid driver_licence number')
      refuses(form(DRIVER_LICENCE, { number: '11-23-456789-0A' }), 'number', 'not a valid driver_licence number')
    })

    it('takes a passport number of one or two letters and seven or eight digits', () => {
      for (const [typed, kept] of [['M1234567', 'M1234567'], ['M12345678', 'M12345678'], ['MA1234567', 'MA1234567'], ['ma12345678', 'MA12345678']]) {
        assert.equal(parseIdentityForm(form(PASSPORT, { number: typed! }), TODAY).number, kept)
      }
      for (const number of ['M123456', 'M123456789', 'MAB1234567', '12345678', 'M', '1M234567', 'M1234567A', 'M12.34567']) {
        refuses(form(PASSPORT, { number }), 'number', 'not a valid passport number')
      }
    })

    it('checks the number against the chosen type, not any type', () => {
      refuses(form(PASSPORT, { number: '9001021234567' }), 'number', 'not a valid passport number')
      refuses(form(RESIDENT_CARD, { number: '112345678901' }), 'number', 'not a valid resident_card number')
      refuses(form(DRIVER_LICENCE, { number: 'M12345678' }), 'number', 'not a valid driver_licence number')
    })
  })

  it('reports every field at fault, in the order of the form, the first as the field to focus', () => {
    const wrong = { document_type: 'passport', name: '1', birthdate: 'x', number: 'x', issue_date: 'x' }
    const date = 'not a date (YYYY-MM-DD)'
    refusesAll(form(wrong, { document_type: 'x' }), [['document_type', 'choose a document'], ['name', 'letters only, up to 40'], ['birthdate', date], ['issue_date', date]])
    refusesAll(form(wrong), [['name', 'letters only, up to 40'], ['birthdate', date], ['number', 'not a valid passport number'], ['issue_date', date]])
    refusesAll(form(wrong, { name: 'Kim' }), [['birthdate', date], ['number', 'not a valid passport number'], ['issue_date', date]])
    refusesAll(form(wrong, { name: 'Kim', birthdate: '1990-01-01' }), [['number', 'not a valid passport number'], ['issue_date', date]])
    refuses(form(wrong, { name: 'Kim', birthdate: '1990-01-01', number: 'M1234567' }), 'issue_date', date)
  })
})

describe('lastDigits', () => {
  it('keeps only the last four characters of a document number', () => {
    assert.equal(lastDigits('9001021234567'), '4567')
    assert.equal(lastDigits('112345678901'), '8901')
    assert.equal(lastDigits('M12345678'), '5678')
    assert.equal(lastDigits('1234'), '1234')
  })

  it('keeps a number shorter than four characters as it is', () => {
    assert.equal(lastDigits('123'), '123')
    assert.equal(lastDigits(''), '')
  })
})
