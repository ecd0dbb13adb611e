import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { startTestServer, type TestServer } from '../helpers/server.ts'

describe('the front door (#17)', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.close() })

  it('/ says what the certificate is and leads to getting one, managing mine and reporting a lost one, in Korean', async () => {
    const page = await request(server.url).get('/').expect(200).expect('Content-Type', /html/).expect('Cache-Control', 'no-store')
    assert.match(page.text, /<html lang="ko"/)
    assert.match(page.text, /<h1 id="title">우체국 금융인증서<\/h1>/)
    assert.match(page.text, /<a class="button" href="\/enroll">인증서 발급받기<\/a>/)
    assert.match(page.text, /<a class="button secondary" href="\/account">내 인증서 관리<\/a>/)
    assert.match(page.text, /<a class="button secondary" href="\/enroll">분실·폐기 신고<\/a>/)
  })

  it('in English with ui_locales=en, and the choice is kept on the way in', async () => {
    // Handlebars writes = in attributes as &#x3D;, which browsers read as =.
    const page = await request(server.url).get('/?ui_locales=en').expect(200).then((r) => ({ text: r.text.replace(/&#x3D;/g, '=') }))
    assert.match(page.text, /<html lang="en"/)
    assert.match(page.text, /<a class="button" href="\/enroll\?ui_locales=en">Get a certificate<\/a>/)
    assert.match(page.text, /href="\/\?ui_locales=ko"/, 'the language switch')
  })

  it('every page\'s logo leads home, and the tab shows the mark', async () => {
    const enroll = await request(server.url).get('/enroll').expect(200)
    assert.match(enroll.text, /<header class="top"><a class="brand" href="\/">우체국 금융인증서<\/a><\/header>/)
    assert.match(enroll.text, /<link rel="icon" href="\/assets\/postcert-mark.svg" type="image\/svg\+xml">/)
    await request(server.url).get('/assets/postcert-mark.svg').expect(200).expect('Content-Type', /image\/svg\+xml/)
  })
})
