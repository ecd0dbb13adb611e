import assert from 'node:assert/strict'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import request from 'supertest'
import { ROOT_DIR } from '../../src/context.ts'
import { errorReason } from '../../src/http/error-reason.ts'
import { Views } from '../../src/http/views.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'

/** The reason line of an error page, as text. */
function reasonOf(html: string): string | undefined {
  return html.match(/<p id="error-reason">([^<]*)<\/p>/)?.[1]
}

describe('error pages name the reason, in the reader\'s language', () => {
  let clientId: string
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)
  before(async () => {
    clientId = (await h.relyingParty({ name: '이유은행', redirectUri: 'https://reason.example.kr/cb', redirectUris: ['https://reason.example.kr/cb', 'https://reason.example.kr/other'] })).clientId
  })

  const authorize = (query: Record<string, string>, language = 'ko') => request(server.url).get('/auth').query({ response_type: 'code', scope: 'openid', ...query }).set('Accept', 'text/html').set('Accept-Language', language)

  it('an unregistered redirect_uri: Korean by default, English with ui_locales, and never a redirect', async () => {
    const ko = await authorize({ client_id: clientId, redirect_uri: 'https://reason.example.kr/cb?foo=bar' }).expect(400)
    assert.equal(ko.headers.location, undefined)
    assert.match(reasonOf(ko.text)!, /^이유: 돌아갈 주소\(redirect_uri\)가 기관이 등록한 주소가 아니어서/)
    const en = await authorize({ client_id: clientId, redirect_uri: 'https://reason.example.kr/elsewhere', ui_locales: 'en' }).expect(400)
    assert.match(reasonOf(en.text)!, /^Reason: The address to return to \(redirect_uri\) is not one the institution registered/)
  })

  it('a missing redirect_uri when the institution registered several names the parameter', async () => {
    const res = await authorize({ client_id: clientId }, 'en').expect(400)
    assert.equal(reasonOf(res.text), 'Reason: The institution&#x27;s request lacks &#x27;redirect_uri&#x27;.')
  })

  it('an unknown institution', async () => {
    const res = await authorize({ client_id: 'nobody', redirect_uri: 'https://reason.example.kr/cb' }).expect(400)
    assert.equal(reasonOf(res.text), '이유: 요청한 기관(client_id)이 우체국 금융인증서에 등록되어 있지 않습니다.')
  })

  it('a logout with an id_token_hint that does not verify', async () => {
    const res = await request(server.url).get('/session/end').query({ id_token_hint: 'eyJhbGciOiJub25lIn0.e30.', ui_locales: 'en' }).set('Accept', 'text/html').expect(400)
    assert.match(reasonOf(res.text)!, /^Reason: The login the institution named \(id_token_hint\) could not be verified/)
  })

  it('PostCert\'s own invalid_request pages add their description; pages with a message of their own do not', async () => {
    const res = await request(server.url).get('/pki/certificates/zz').set('Accept', 'text/html').set('Accept-Language', 'en').expect(400)
    assert.equal(reasonOf(res.text), 'Reason: the serial must be hexadecimal')
    const missing = await request(server.url).get('/no/such/page').set('Accept', 'text/html').expect(404)
    assert.equal(reasonOf(missing.text), undefined)
  })

  it('a description PostCert has no translation for is shown as it is; nothing when it repeats the message', () => {
    const views = new Views(path.join(ROOT_DIR, 'views'))
    assert.equal(errorReason(views, 'ko', 'invalid max_age parameter value'), 'invalid max_age parameter value')
    assert.equal(errorReason(views, 'en', 'same', 'same'), undefined)
    assert.equal(errorReason(views, 'en', undefined), undefined)
    assert.equal(errorReason(views, 'en', 'ui_locales contains invalid characters'), 'ui_locales contains characters that are not allowed.')
  })
})
