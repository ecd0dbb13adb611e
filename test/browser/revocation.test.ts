import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { startDemoRelyingParty, type RunningDemo } from '../../examples/relying-party/app.ts'
import { backchannelReceiver, type BackchannelReceiver } from '../helpers/backchannel.ts'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { enrollInBrowser, KIM } from '../helpers/browser-flows.ts'
import { ROOT } from '../helpers/process.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { onPhone } from '../helpers/browser-suite.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')
const PASSWORD = 'Mokpo-2026-harbour!'

/**
 * A certificate file exposed: the subscriber revokes it from /account in another browser (with
 * the backup file), and what it opened at the bank ends. The bank's back-channel endpoint is the
 * test's receiver, so that both effects show apart: the logout token it receives, and the bank's
 * own refresh refused at PostCert; the token is then handed to the bank, which accepts it.
 */
describe('a revoked certificate ends what it opened, in real browsers', { skip: NEEDS_CHROMIUM }, () => {
  let server: TestServer
  let demo: RunningDemo
  let browser: Browser
  let receiver: BackchannelReceiver
  let clientId = ''
  const log: string[] = []

  before(async () => {
    server = await startTestServer({ hostname: 'localhost' })
    receiver = await backchannelReceiver()
    const store = server.ctx.clients
    demo = await startDemoRelyingParty({
      issuer: server.issuer, log: (m) => log.push(m), scope: 'openid profile certificate offline_access',
      credentials: async (baseUrl) => {
        const rp = await store.add({
          name: '데모 은행', redirectUris: [`${baseUrl}/callback`], postLogoutRedirectUris: [`${baseUrl}/`],
          scope: 'openid profile certificate offline_access', metadata: { backchannel_logout_uri: receiver.uri },
        })
        clientId = rp.client_id
        return { clientId: rp.client_id, clientSecret: String(rp.client_secret) }
      },
    })
    browser = await launchBrowser()
    fs.mkdirSync(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await demo?.close()
    await receiver?.close()
    await server?.close()
  })

  it('revoked from /account in another browser: the bank\'s refresh fails, its back-channel endpoint is told, a new login needs the certificate', async () => {
    // The PC: a certificate file, its backup saved, a login at the bank that keeps the customer signed in.
    const pc = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR', acceptDownloads: true })
    const page = await pc.newPage()
    const serial = await enrollInBrowser(page, server, KIM, { password: PASSWORD })
    await page.locator('#backup:not([hidden])').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#backup').click()])
    const backup = fs.readFileSync((await download.path())!)

    await page.goto(demo.url)
    await page.locator('#login').click()
    await page.waitForURL(/\/interaction\//)
    await page.getByLabel('인증서 비밀번호').fill(PASSWORD)
    await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    await page.getByRole('button', { name: '등록하고 계속' }).click()
    await page.waitForURL(`${demo.url}/me`)
    const sub = ((await page.locator('td[data-claim="sub"]').textContent()) ?? '').trim()
    await page.locator('#refresh').click()
    await page.locator('#refreshed').waitFor()

    // Another browser: the backup imported on the login page, the portal, the revocation.
    const other = await onPhone(browser)
    const phone = await other.newPage()
    await phone.goto(`${server.issuer}/account`)
    await phone.waitForURL(/\/interaction\//)
    await phone.locator('#import-backup[open]').waitFor() // no file on this phone: the import is open (#17)
    await phone.getByLabel('백업 파일', { exact: true }).setInputFiles({ name: 'postcert-backup.pem', mimeType: 'application/x-pem-file', buffer: backup })
    await phone.locator('#import-status', { hasText: '가져왔습니다' }).waitFor()
    await phone.getByLabel('인증서 비밀번호').fill(PASSWORD)
    await phone.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    await phone.waitForURL((u) => u.pathname === '/account')
    await phone.goto(`${server.issuer}/account/certificates/${serial}`)
    await phone.getByLabel('기기 분실·도난 또는 비밀번호 유출').check()
    await phone.getByLabel('폐기한 인증서는 다시 쓸 수 없음을 확인했습니다.').check()
    await phone.getByRole('button', { name: '인증서 폐기' }).click()
    await phone.waitForURL((u) => u.pathname.endsWith('/revoke'))
    await phone.screenshot({ path: path.join(SHOTS, 'revoked-from-portal-ko.png'), fullPage: true })
    await other.close()

    // The bank's back-channel endpoint was told at once: a logout token for this customer's session.
    const [logout] = await receiver.verified(server.issuer, `${server.url}/jwks`, clientId)
    assert.equal(receiver.tokens.length, 1)
    assert.equal(logout!.sub, sub)
    assert.ok(logout!.sid, 'with the PostCert session it ends')

    // The bank's next refresh is refused: it signs the customer out.
    await page.locator('#refresh').click()
    await page.locator('#error-code', { hasText: 'invalid_grant' }).waitFor()
    assert.ok(log.includes('refresh refused: invalid_grant'), log.join('\n'))
    await page.screenshot({ path: path.join(SHOTS, 'demo-rp-refresh-refused.png'), fullPage: true })

    // The bank accepts PostCert's logout token too.
    const handed = await fetch(`${demo.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: receiver.tokens[0]! }) })
    assert.equal(handed.status, 200)

    // Logging in again asks for the certificate (no silent sign-in): the list marks it revoked, and,
    // where the CA's status cannot be read, the login with it is refused.
    await page.goto(demo.url)
    await page.locator('#login').click()
    await page.waitForURL(/\/interaction\//)
    await page.locator('#certificates .badge', { hasText: '폐기됨' }).waitFor()
    await page.route('**/pki/certificates/**', (route) => route.abort())
    await page.reload()
    await page.getByLabel('인증서 비밀번호').fill(PASSWORD)
    await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    await page.locator('#login-error', { hasText: '폐기된 인증서입니다' }).waitFor()
    await pc.close()
  })
})
