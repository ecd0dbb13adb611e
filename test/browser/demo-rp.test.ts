import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startDemoRelyingParty, type RunningDemo } from '../../examples/relying-party/app.ts'
import { ACR_SUBSTANTIAL } from '../../src/possession/assurance.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { addVirtualAuthenticator, enrollInBrowser, KIM, LEE } from '../helpers/browser-flows.ts'
import { ROOT } from '../helpers/process.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { onPhone } from '../helpers/browser-suite.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

describe('the demo relying party (examples/relying-party) in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  let server: TestServer
  let demo: RunningDemo
  let browser: Browser
  const clock = new ManualClock()
  const log: string[] = []

  before(async () => {
    server = await startTestServer({ hostname: 'localhost', overrides: { clock } })
    const store = server.ctx.clients
    demo = await startDemoRelyingParty({
      issuer: server.issuer,
      log: (message) => log.push(message),
      // Registered the way an operator would, once the demo knows its URL.
      credentials: async (baseUrl) => {
        const rp = await store.add({
          name: '데모 은행', redirectUris: [`${baseUrl}/callback`], postLogoutRedirectUris: [`${baseUrl}/`],
          scope: 'openid profile phone certificate', certificateClaim: true, metadata: { backchannel_logout_uri: `${baseUrl}/backchannel-logout` },
        })
        return { clientId: rp.client_id, clientSecret: String(rp.client_secret) }
      },
    })
    browser = await launchBrowser()
    fs.mkdirSync(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await demo?.close()
    await server?.close()
  })

  const claim = async (page: Page, name: string) => ((await page.locator(`td[data-claim="${name}"]`).textContent()) ?? '').trim()

  /**
   * Sends the page's proof (JWS or assertion) a second time, right after the first was accepted:
   * the single-use challenge must refuse it. Resolves with the replay's status and error.
   */
  function replayProofs(page: Page, endpoint: 'file' | 'passkey'): Promise<{ status: number; error: string }> {
    return new Promise((resolve) => {
      void page.route(`**/login/${endpoint}`, async (route) => {
        const request = route.request()
        const original = await route.fetch()
        const replay = await page.request.post(request.url(), { headers: request.headers(), data: request.postData() ?? '' })
        resolve({ status: replay.status(), error: String((await replay.json()).error) })
        await route.fulfill({ response: original })
        await page.unroute(`**/login/${endpoint}`)
      })
    })
  }

  /** From the demo's home page to PostCert's login page. */
  async function startAtDemo(page: Page) {
    await page.goto(demo.url)
    await page.locator('#login').click()
    await page.waitForURL(/\/interaction\//)
  }

  it('passkey: consent the first time, none the second; claims shown; a replayed assertion refused; logout; revoked refused', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await addVirtualAuthenticator(page)
    const serial = await enrollInBrowser(page, server, LEE, { passkey: true })

    await page.goto(demo.url)
    await page.screenshot({ path: path.join(SHOTS, 'demo-rp-home.png'), fullPage: true })
    await page.locator('#login').click()
    await page.waitForURL(/\/interaction\//)
    const replayed = replayProofs(page, 'passkey')
    await page.getByRole('button', { name: '패스키로 로그인' }).click()
    await page.getByRole('button', { name: '등록하고 계속' }).click()
    await page.waitForURL(`${demo.url}/me`)
    assert.deepEqual(await replayed, { status: 400, error: 'challenge_invalid' }, 'the same assertion a second time')
    await page.screenshot({ path: path.join(SHOTS, 'demo-rp-claims-passkey.png'), fullPage: true })
    assert.equal(await claim(page, 'name'), '이소포')
    assert.equal(await claim(page, 'birthdate'), '1985-11-30')
    assert.equal(await claim(page, 'phone_number'), '+821000000002')
    // Chromium's virtual authenticator is not an attested device: substantial, the user verified.
    assert.equal(await claim(page, 'acr'), ACR_SUBSTANTIAL)
    assert.match(await claim(page, 'amr'), /swk.*user/)
    assert.equal(await claim(page, 'certificate.serial'), serial)
    const sub = await claim(page, 'sub')

    // The second time (a new visit to the demo), PostCert's session signs the customer in with no page at all.
    await context.clearCookies({ name: 'demobank' })
    await startOrReturn(page)
    assert.equal(await claim(page, 'sub'), sub, 'the same pairwise subject')

    // Logout at the demo also ends PostCert's session.
    await page.locator('#logout').click()
    await page.getByRole('button', { name: '예, 로그아웃합니다' }).click()
    await page.waitForURL((u) => u.href.startsWith(`${demo.url}/`) && !u.pathname.startsWith('/me'))
    await page.goto(`${demo.url}/me`)
    assert.equal(new URL(page.url()).pathname, '/', 'signed out at the demo')

    // Revoked: PostCert refuses with the reason and the way to a new certificate.
    await server.ctx.authority.revoke(serial, 'keyCompromise')
    await startAtDemo(page)
    await page.getByRole('button', { name: '패스키로 로그인' }).click()
    await page.locator('#login-error', { hasText: '폐기된 인증서입니다' }).waitFor()
    assert.match(await page.locator('#login-error a').getAttribute('href') ?? '', /^\/enroll\?from=[\w-]+$/)
    await context.close()
  })

  it('certificate file: claims shown; a replayed JWS refused; back-channel logout ends the demo session; expired refused (fixed clock)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' })
    const page = await context.newPage()
    const password = 'Gangneung-2026-sea!'
    const serial = await enrollInBrowser(page, server, KIM, { password })
    const withFile = async () => {
      await page.getByLabel('인증서 비밀번호').fill(password)
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    }

    await startAtDemo(page)
    const replayed = replayProofs(page, 'file')
    await withFile()
    await page.getByRole('button', { name: '등록하고 계속' }).click()
    await page.waitForURL(`${demo.url}/me`)
    assert.deepEqual(await replayed, { status: 400, error: 'challenge_invalid' }, 'the same JWS a second time')
    await page.screenshot({ path: path.join(SHOTS, 'demo-rp-claims-file.png'), fullPage: true })
    assert.equal(await claim(page, 'name'), '김우정')
    assert.equal(await claim(page, 'acr'), ACR_SUBSTANTIAL)
    assert.match(await claim(page, 'amr'), /swk.*pwd/)
    assert.equal(await claim(page, 'certificate.serial'), serial)
    assert.match(await claim(page, 'certificate.x5t#S256'), /^[A-Za-z0-9_-]{43}$/)

    // Logout at PostCert itself (not through the demo): the back-channel logout ends the demo's session.
    await page.goto(`${server.issuer}/session/end`)
    await page.getByRole('button', { name: '예, 로그아웃합니다' }).click()
    await page.waitForLoadState()
    assert.ok(log.some((l) => l.startsWith('back-channel logout: ended 1 session')), log.join('\n'))
    await page.goto(`${demo.url}/me`)
    assert.equal(new URL(page.url()).pathname, '/', 'the demo session ended without the browser visiting the demo')

    // A year and more later the certificate has expired: explained, with the way to a new one.
    clock.advance(400 * 86_400)
    try {
      await startAtDemo(page)
      await withFile()
      await page.locator('#login-error', { hasText: '인증서가 만료되었습니다' }).waitFor()
      assert.match(await page.locator('#login-error a').getAttribute('href') ?? '', /^\/enroll\?from=[\w-]+$/)
      await page.screenshot({ path: path.join(SHOTS, 'demo-rp-expired.png'), fullPage: true })
    } finally {
      clock.advance(-400 * 86_400)
    }
    await context.close()
  })

  it('contract: signed with a certificate file and with a passkey, verified; a changed text fails; revoked later shows as revoked now', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await addVirtualAuthenticator(page)
    const password = 'Yeosu-2026-night-sea!'
    const fileSerial = await enrollInBrowser(page, server, KIM, { password })

    /** From the demo's contract page through PostCert's login and signing pages, back to the verified signature. */
    const signContract = async (login: () => Promise<void>, sign: () => Promise<void>, shot: string) => {
      await page.goto(`${demo.url}/contract`)
      await page.locator('#sign').click()
      await page.waitForURL(/\/interaction\//)
      await login()
      await page.getByRole('heading', { name: '데모 은행 신용대출 약정서' }).waitFor()
      assert.ok(await page.getByRole('region', { name: '거래 내용' }).getByText('5,000,000원').isVisible(), 'the loan on PostCert\'s signing page')
      await sign()
      await page.waitForURL(`${demo.url}/contract/signed`)
      await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true })
      assert.match(await page.locator('#verdict').textContent() ?? '', /서명 당시 유효한 서명입니다/)
      assert.match(await page.locator('#text-matches').textContent() ?? '', /서명한 문구와 같음/)
      assert.equal((await page.locator('#status-now').textContent())?.trim(), 'good')
    }

    await signContract(async () => {
      await page.getByLabel('인증서 비밀번호').fill(password)
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    }, async () => {
      // The password opened the key at the login of this same request: not asked again (#17).
      await page.locator('#unlocked-notice').waitFor()
      await page.getByRole('button', { name: '인증서로 서명' }).click()
    }, 'demo-rp-signed-file.png')
    assert.match(await page.locator('body').textContent() ?? '', new RegExp(fileSerial))

    // The bank checks the signature against a contract text with one change: it does not match.
    await page.locator('#tamper').click()
    assert.match(await page.locator('#verdict').textContent() ?? '', /서명이 유효하지 않습니다/)
    assert.match(await page.locator('#text-matches').textContent() ?? '', /서명한 문구와 다름/)

    // Revoked after signing: still valid at signing, revoked now.
    await server.ctx.authority.revoke(fileSerial, 'keyCompromise')
    await page.goto(`${demo.url}/contract/signed`)
    assert.match(await page.locator('#verdict').textContent() ?? '', /서명 당시 유효한 서명입니다/)
    assert.match(await page.locator('#status-now').textContent() ?? '', /^revoked \(.*keyCompromise\)/)
    await page.screenshot({ path: path.join(SHOTS, 'demo-rp-signed-revoked.png'), fullPage: true })

    // The same person with a passkey (PostCert's session is still on: straight to the signing page).
    await context.clearCookies()
    const passkeySerial = await enrollInBrowser(page, server, KIM, { passkey: true })
    await signContract(async () => {
      await page.getByRole('button', { name: '패스키로 로그인' }).click()
    }, async () => {
      await page.getByRole('button', { name: '패스키로 서명' }).click()
    }, 'demo-rp-signed-passkey.png')
    assert.match(await page.locator('body').textContent() ?? '', new RegExp(`${passkeySerial}[^]*패스키`))
    await context.close()
  })

  /** From the demo to its claims page, through PostCert without any page when its session is on. */
  async function startOrReturn(page: Page) {
    await page.goto(demo.url)
    await page.locator('#login').click()
    await page.waitForURL(`${demo.url}/me`)
  }
})
