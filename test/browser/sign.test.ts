import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import * as jose from 'jose'
import type { Page } from 'playwright-core'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { addVirtualAuthenticator, enrollInBrowser, KIM, LEE } from '../helpers/browser-flows.ts'
import { ROOT } from '../helpers/process.ts'
import { browserSuite, BrowserRelyingParty, onPhone } from '../helpers/browser-suite.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')
const CONTRACT = '# 전자금융거래 약정\n\n제1조 이 약정은 **우체국 금융인증서**로 체결합니다.\n\n- 계약 기간: 1년\n- 해지: 언제든지'
const DETAIL = {
  type: 'postcert_signature',
  documents: [{ title: '전자금융거래 약정서', text: CONTRACT, text_format: 'markdown', sha256: createHash('sha256').update(CONTRACT).digest('base64url') }],
  transaction: { amount: '250000', currency: 'KRW', payee: '홍길동', account: '우체국 012-3456-7890' },
}

describe('signing a contract in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ screenshots: SHOTS })
  let rp: BrowserRelyingParty
  before(async () => { rp = await BrowserRelyingParty.register(server, { name: '서명은행' }) })

  /** The institution asks for the signature; `login` and `sign` act on PostCert's pages; the code is redeemed. */
  async function signContract(page: Page, login: () => Promise<void>, sign: () => Promise<void>, shot: string) {
    const started = await rp.start(page, { authorization_details: JSON.stringify([DETAIL]) })
    await page.waitForURL(/\/interaction\//)
    await login()
    await page.getByRole('heading', { name: '전자서명' }).waitFor()
    assert.ok(await page.getByRole('heading', { name: '전자금융거래 약정서' }).isVisible(), 'the document is shown')
    assert.ok(await page.getByText('250,000원').isVisible(), 'the transaction is shown, in 원')
    await page.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true })
    await sign()
    const tokens = await rp.finish(page, started)
    const [detail] = tokens.authorization_details as unknown as Record<string, any>[]
    const jwks = jose.createLocalJWKSet(await (await fetch(`${server.issuer}/jwks`)).json() as jose.JSONWebKeySet)
    const { payload } = await jose.jwtVerify(detail!.receipt, jwks, { issuer: server.issuer })
    return { detail: detail!, receipt: payload }
  }

  /** How many opened keys the browser holds between a login and its signature (key-store.ts, store "unlocked"). */
  const unlockedKeys = (page: Page) => page.evaluate(() => new Promise<number>((resolve, reject) => {
    const request = (globalThis as unknown as { indexedDB: { open: (n: string) => { result: any; onsuccess: (() => void) | null; onerror: (() => void) | null } } }).indexedDB.open('postcert')
    request.onerror = () => reject(new Error('no store'))
    request.onsuccess = () => {
      const count = request.result.transaction('unlocked', 'readonly').objectStore('unlocked').count()
      count.onsuccess = () => resolve(count.result as number)
    }
  }))

  it('signs with the certificate file kept in this browser', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const serial = await enrollInBrowser(page, server, KIM, { password: 'Gangneung-2026-sea!' })
    const { detail, receipt } = await signContract(page, async () => {
      await page.getByLabel('인증서 비밀번호').fill('Gangneung-2026-sea!')
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    }, async () => {
      // One password for the visit (#17): the key the login opened signs, after the document is read and the button pressed.
      await page.locator('#unlocked-notice').waitFor()
      assert.match(await page.locator('#unlocked-notice').textContent() ?? '', /로그인할 때 연 인증서로 서명합니다/)
      assert.ok(await page.locator('#sign-password').isHidden(), 'no second password prompt')
      await page.getByRole('button', { name: '인증서로 서명' }).click()
    }, 'sign-ko-file')
    assert.equal(await unlockedKeys(page), 0, 'the opened key is gone once it signed')
    assert.equal(detail.signature.format, 'jws')
    assert.ok(detail.signature.cms, 'with the detached CMS')
    assert.equal((receipt.signer as { serial: string; holder: string }).serial, serial)
    assert.equal((receipt.signer as { holder: string }).holder, 'file')

    // Another signature without a new login: nothing was kept, so the password is asked.
    await signContract(page, async () => {}, async () => {
      assert.ok(await page.locator('#unlocked-notice').isHidden())
      await page.getByLabel('인증서 비밀번호').fill('Gangneung-2026-sea!')
      await page.getByRole('button', { name: '인증서로 서명' }).click()
    }, 'sign-ko-file-again')
    await context.close()
  })

  it('removing the file from this browser forgets the key its login opened for the signature', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await enrollInBrowser(page, server, KIM, { password: 'Gangneung-2026-sea!' })
    await rp.start(page, { authorization_details: JSON.stringify([DETAIL]), prompt: 'login' })
    await page.waitForURL(/\/interaction\//)
    await page.getByLabel('인증서 비밀번호').fill('Gangneung-2026-sea!')
    await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    await page.locator('#unlocked-notice').waitFor()
    assert.equal(await unlockedKeys(page), 1, 'kept for the signature')
    await page.getByRole('button', { name: /인증서를 이 브라우저에서 지우기/ }).click()
    await page.getByRole('button', { name: '지우기', exact: true }).click()
    await page.locator('#no-certificates').waitFor()
    assert.equal(await unlockedKeys(page), 0, 'gone with the file')
    await context.close()
  })

  it('signs with a passkey', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await addVirtualAuthenticator(page)
    const serial = await enrollInBrowser(page, server, LEE, { passkey: true })
    const { detail, receipt } = await signContract(page, async () => {
      await page.getByRole('button', { name: '패스키로 로그인' }).click()
    }, async () => {
      await page.getByRole('button', { name: '패스키로 서명' }).click()
    }, 'sign-ko-passkey')
    assert.equal(detail.signature.format, 'webauthn')
    assert.equal(detail.signature.x5c.length, 3, 'the certificate with the CA chain')
    const clientData = JSON.parse(Buffer.from(detail.signature.client_data_json, 'base64url').toString('utf8'))
    assert.equal(clientData.challenge, detail.payload_sha256, 'the passkey signed the payload\'s SHA-256')
    assert.equal((receipt.signer as { serial: string }).serial, serial)
    await context.close()
  })
})
