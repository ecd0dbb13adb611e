import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { releasedClaims, SCOPE_CLAIMS } from '../../src/oidc/scope-claims.ts'

describe('what each scope releases', () => {
  it('the registration page lists what the token would say about the subscriber, once each, not how they logged in', () => {
    assert.deepEqual(releasedClaims(['openid']), ['sub'])
    assert.deepEqual(releasedClaims(['openid', 'profile', 'phone', 'profile']), ['sub', 'name', 'birthdate', 'phone_number'])
    assert.deepEqual(releasedClaims(['openid', 'ci', 'certificate', 'offline_access', 'unknown']), ['sub', 'ci', 'certificate'])
  })

  it('the provider releases acr, amr and auth_time with every ID token, and phone_number_verified with the phone', () => {
    assert.deepEqual(SCOPE_CLAIMS.openid, ['sub', 'acr', 'amr', 'auth_time'])
    assert.deepEqual(SCOPE_CLAIMS.phone, ['phone_number', 'phone_number_verified'])
  })
})
