import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CaError } from '../../src/ca/errors.ts'
import { ROOT_DIR } from '../../src/context.ts'
import { EnrollmentError } from '../../src/enrollment/errors.ts'
import { RequestError } from '../../src/errors/errors.ts'
import { FormError } from '../../src/errors/form-error.ts'
import { errorDomain, PostCertError } from '../../src/errors/postcert-error.ts'
import { LOGIN_ERRORS } from '../../src/interactions/routes.ts'
import { SIGNING_ERRORS } from '../../src/interactions/signing.ts'
import { PhoneError } from '../../src/phone/errors.ts'
import { PossessionError } from '../../src/possession/errors.ts'
import { SigningError } from '../../src/signing/errors.ts'

const messages = (locale: string) => JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'views/locales', `${locale}.json`), 'utf8')) as Record<string, string>
const missing = (keys: string[]) => ['ko', 'en'].flatMap((locale) => keys.filter((k) => !(k in messages(locale))).map((k) => `${locale}: ${k}`))

describe('error domains', () => {
  it('a domain\'s error takes its status from the map, its wire code from its name unless the map gives another, and lists its names', () => {
    class ExampleError extends errorDomain({ too_many: 429, shared: { status: 413, code: 'invalid_request' } }) {}
    const err = new ExampleError('too_many', 'slow down', { params: { minutes: 2 }, field: 'code' })
    assert.ok(err instanceof PostCertError)
    assert.deepEqual([err.status, err.code, err.kind, err.description, err.params, err.field, err.name], [429, 'too_many', 'too_many', 'slow down', { minutes: 2 }, 'code', 'ExampleError'])
    assert.deepEqual(err.toJSON(), { error: 'too_many', error_description: 'slow down' })
    const shared = new ExampleError('shared', 'too large')
    assert.deepEqual([shared.status, shared.code, shared.kind], [413, 'invalid_request', 'shared'])
    assert.deepEqual(ExampleError.codes, ['too_many', 'shared'])
  })

  it('every domain answers 4xx or 503 with an OAuth-style code', () => {
    for (const domain of [RequestError, FormError, PhoneError, EnrollmentError, PossessionError, SigningError, CaError]) {
      for (const kind of domain.codes) {
        const err = new (domain as new (kind: string, description: string) => PostCertError)(kind, 'x')
        assert.match(err.code, /^[a-z_]+$/, `${domain.name}.${kind}`)
        assert.ok((err.status >= 400 && err.status < 500) || err.status === 503, `${domain.name}.${kind}: ${err.status}`)
      }
    }
  })

  it('the login and signing pages have a message, in Korean and English, for every refusal their endpoints answer with', () => {
    assert.ok(LOGIN_ERRORS.includes('certificate_locked') && SIGNING_ERRORS.includes('wrong_certificate') && SIGNING_ERRORS.includes('too_many_attempts'))
    assert.deepEqual(missing([...new Set([...LOGIN_ERRORS, ...SIGNING_ERRORS])].map((code) => `error.${code}`)), [])
  })

  it('the enrollment pages have a message beside the form for every error a step can fix, and an error page for the others', () => {
    const onPage = [...FormError.codes, ...PhoneError.codes.filter((c) => c !== 'phone_not_verified'), ...EnrollmentError.codes.filter((c) => c !== 'step_not_allowed' && c !== 'enrollment_expired')]
    assert.deepEqual(missing(onPage.map((code) => `enroll.error.${code}`)), [])
    assert.deepEqual(missing(['step_not_allowed', 'enrollment_expired'].map((code) => `error.${code}`)), [])
  })
})
