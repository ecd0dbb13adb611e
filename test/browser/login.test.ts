import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { encryptPkcs8, toPem } from '../../src/holders/keyfile/encrypted-pkcs8.ts'
import { ACR_SUBSTANTIAL } from '../../src/possession/assurance.ts'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { addVirtualAuthenticator, enrollInBrowser, KIM, LEE } from '../helpers/browser-flows.ts'
import { ROOT } from '../helpers/process.ts'
import { browserSuite, BrowserRelyingParty, onPhone } from '../helpers/browser-suite.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

describe('certificate login in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ screenshots: SHOTS })
  let rp: BrowserRelyingParty
  before(async () => { rp = await BrowserRelyingParty.register(server, { name: '데모은행' }) })

  /** The relying party's side: start a login, and redeem the code at the callback. */
  async function login(page: Page, act: () => Promise<void>, expectConsent: boolean, shotPrefix?: string, extra: Record<string, string> = {}) {
    const started = await rp.start(page, { scope: 'openid profile', ...extra })
    await page.waitForURL(/\/interaction\//)
    if (shotPrefix) await page.screenshot({ path: path.join(SHOTS, `${shotPrefix}-login.png`), fullPage: true })
    await act()
    if (expectConsent) {
      await page.waitForSelector('text=데모은행에 인증서를 등록하시겠습니까?')
      if (shotPrefix) await page.screenshot({ path: path.join(SHOTS, `${shotPrefix}-consent.png`), fullPage: true })
      await page.getByRole('button', { name: '등록하고 계속' }).click()
    }
    return (await rp.finish(page, started)).claims()!
  }

  it('logs in with the certificate file kept in this browser: consent the first time, none the second', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const serial = await enrollInBrowser(page, server, KIM, { password: 'Daejeon-2026-safe!' })
    const listed = async () => (await page.locator('#certificates label').first().textContent()) ?? ''
    const withFile = (password: string) => async () => {
      await page.getByLabel('인증서 비밀번호').fill(password)
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    }

    // A wrong password fails in the browser: no login request reaches the server.
    const calls: string[] = []
    page.on('request', (r) => { if (r.url().includes('/login/')) calls.push(r.url()) })
    await rp.start(page)
    await page.waitForURL(/\/interaction\//)
    await page.locator('#certificates label').first().waitFor()
    assert.match(await listed(), /김우정 · [0-9a-f]{8}… · 만료일 \d{4}-\d{2}-\d{2}/, 'the certificate is listed by name, serial and expiry')
    await withFile('Wrong-password-99')()
    await page.locator('#login-error').waitFor()
    assert.match(await page.locator('#login-error').textContent() ?? '', /인증서 비밀번호가 맞지 않습니다/)
    assert.deepEqual(calls, [])

    const first = await login(page, withFile('Daejeon-2026-safe!'), true, 'login-ko-file')
    assert.equal(first.acr, ACR_SUBSTANTIAL)
    // prompt=login: a fresh proof even though PostCert's session is still on; no consent this time.
    const second = await login(page, withFile('Daejeon-2026-safe!'), false, undefined, { prompt: 'login' })
    assert.equal(second.sub, first.sub)

    // Once revoked, the list says so (the CA's public status), and no password is asked for it.
    await server.ctx.authority.revoke(serial, 'keyCompromise')
    await rp.start(page, { prompt: 'login' })
    await page.waitForURL(/\/interaction\//)
    const uid = new URL(page.url()).pathname.split('/').pop()!
    await page.locator('#certificates .badge', { hasText: '폐기됨' }).waitFor()
    assert.ok(await page.locator('#login-password').isHidden())
    await page.screenshot({ path: path.join(SHOTS, 'login-ko-file-revoked.png'), fullPage: true })
    // Where the CA's answer does not come, the file is tried, and refused with a page-language explanation and the way forward.
    await page.route('**/pki/certificates/**', (route) => route.abort())
    await page.reload()
    await withFile('Daejeon-2026-safe!')()
    await page.locator('#login-error').waitFor()
    assert.match(await page.locator('#login-error').textContent() ?? '', /폐기된 인증서입니다/)
    assert.equal(await page.locator('#login-error a').getAttribute('href'), `/enroll?from=${uid}`, 'the way to a new certificate, and back here')
    await page.unroute('**/pki/certificates/**')
    await context.close()
  })

  it('imports a backup file on another device and logs in with it; refuses broken files before any server call', async () => {
    const first = await onPhone(browser, { acceptDownloads: true })
    const enrolled = await first.newPage()
    const password = 'Mokpo-2026-harbour!'
    await enrollInBrowser(enrolled, server, { ...KIM, phone: '010-0000-0001' }, { password })
    const [download] = await Promise.all([enrolled.waitForEvent('download'), enrolled.getByRole('button', { name: '백업 파일 내려받기' }).click()])
    const backup = fs.readFileSync((await download.path())!, 'utf8')
    await first.close()

    // A new device: nothing in this browser yet.
    const context = await onPhone(browser)
    const page = await context.newPage()
    const calls: string[] = []
    const challengeCalls: string[] = []
    page.on('request', (r) => { if (r.url().includes('/login/')) calls.push(r.url()) })
    const importFile = async (name: string, text: string) => {
      if (await page.locator('#import-backup[open]').count() === 0) await page.locator('summary', { hasText: '백업 파일 가져오기' }).click()
      await page.getByLabel('백업 파일', { exact: true }).setInputFiles({ name, mimeType: 'application/x-pem-file', buffer: Buffer.from(text) })
    }
    const claims = await login(page, async () => {
      await page.locator('#no-certificates').waitFor()
      await importFile('notes.txt', 'not a backup')
      await page.locator('#import-status', { hasText: '우체국 금융인증서 백업 파일이 아닙니다' }).waitFor()

      // The key of another file under the same certificate: refused here, not at PostCert.
      const otherKey = toPem(await encryptPkcs8(new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' })), password, 1000), 'ENCRYPTED PRIVATE KEY')
      await importFile('swapped.pem', backup.replace(/-----BEGIN ENCRYPTED PRIVATE KEY-----[\s\S]+?-----END ENCRYPTED PRIVATE KEY-----\n/, otherKey))
      await page.locator('#import-status', { hasText: '가져왔습니다' }).waitFor()
      await page.getByLabel('인증서 비밀번호').fill(password)
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
      await page.locator('#login-error', { hasText: '키가 인증서와 맞지 않습니다' }).waitFor()
      assert.deepEqual(calls, [], 'no proof was sent')

      // The real backup replaces it (same certificate), selected and ready for the password.
      await page.locator('#import-status').evaluate((e) => { e.textContent = '' })
      await importFile('postcert-backup.pem', backup)
      await page.locator('#import-status', { hasText: '가져왔습니다' }).waitFor()
      assert.equal(await page.locator('#certificates label').count(), 1, 'replaced, not listed twice')
      assert.match(await page.locator('#certificates label').first().textContent() ?? '', /김우정/)
      assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'login-password', 'focus moves to the password')
      // The challenge that came with the page no longer holds (as when it expired while the page
      // sat open; here it is recorded as used): the page asks for a fresh one, once.
      const { challenge } = JSON.parse((await page.locator('#login-challenge').textContent())!) as { challenge: string }
      await server.ctx.db.insertInto('login_challenge').values({ hash: createHash('sha256').update(challenge).digest('hex'), interaction_uid: new URL(page.url()).pathname.split('/').pop()!, expires_at: new Date(Date.now() + 300_000) }).execute()
      page.on('request', (r) => { if (r.url().endsWith('/challenge')) challengeCalls.push(r.url()) })
      await page.getByLabel('인증서 비밀번호').fill(password)
      await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    }, false)
    assert.equal(challengeCalls.length, 1, 'one fresh challenge') // 김우정 registered with this institution in the first test: registration holds on every device.
    assert.equal(claims.acr, ACR_SUBSTANTIAL)
    await context.close()
  })

  it('logs in with a passkey', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await addVirtualAuthenticator(page)
    await enrollInBrowser(page, server, LEE, { passkey: true })
    const claims = await login(page, async () => { await page.getByRole('button', { name: '패스키로 로그인' }).click() }, true, 'login-ko-passkey')
    // The virtual authenticator's attestation chains to no trusted root: substantial, the user verified.
    assert.equal(claims.acr, ACR_SUBSTANTIAL)
    assert.deepEqual(claims.amr, ['swk', 'user'])

    // Suspended, it is refused with the way forward: the identity proven again, then resumed (#17).
    const serial = (await server.ctx.db.selectFrom('certificate').select('serial').where('holder', '=', 'passkey').where('status', '=', 'good').orderBy('not_before', 'desc').executeTakeFirstOrThrow()).serial
    await server.ctx.authority.suspend(serial)
    try {
      await rp.start(page, { prompt: 'login' })
      await page.waitForURL(/\/interaction\//)
      const uid = new URL(page.url()).pathname.split('/').pop()!
      await page.getByRole('button', { name: '패스키로 로그인' }).click()
      const resume = page.locator('#login-error').getByRole('link', { name: '본인확인 후 효력 회복하기' })
      await resume.waitFor()
      assert.equal(await resume.getAttribute('href'), `/enroll?from=${uid}`)
      assert.match(await page.locator('#login-error').textContent() ?? '', /효력이 정지된 인증서입니다/)
    } finally {
      await server.ctx.authority.resume(serial)
    }
    await context.close()
  })

  it('lists this browser\'s files with what the CA says of them now, files first; removes one after a confirmation (#17)', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const first = async () => await page.locator('#ways > div').first().getAttribute('id')
    const focused = async () => await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id?: string } | null } }).document.activeElement?.id)

    // No file here: the passkey first, no password asked, the backup import open.
    await rp.start(page)
    await page.waitForURL(/\/interaction\//)
    await page.locator('#no-certificates').waitFor()
    assert.ok(await page.locator('#login-password').isHidden(), 'no password without a file')
    assert.equal(await page.locator('#import-backup').getAttribute('open'), '')
    assert.equal(await first(), 'passkey-section')
    await page.screenshot({ path: path.join(SHOTS, 'login-ko-no-files.png'), fullPage: true })

    const PASSWORD = 'Daejeon-2026-safe!'
    const old = await enrollInBrowser(page, server, LEE, { password: PASSWORD })
    const current = await enrollInBrowser(page, server, LEE, { password: PASSWORD }) // a reissue: the first is revoked
    const open = async () => {
      await rp.start(page, { prompt: 'login' })
      await page.waitForURL(/\/interaction\//)
      await page.locator('.choice-row').first().waitFor()
    }
    const row = (serial: string) => page.locator('.choice-row').filter({ hasText: `${serial.slice(0, 8)}…` })
    await open()
    assert.equal(await page.locator('.choice-row').count(), 2)
    assert.match(await row(old).textContent() ?? '', /폐기됨/)
    assert.ok(await row(old).locator('input[type=radio]').isDisabled(), 'a revoked file cannot be chosen')
    assert.ok(await row(current).locator('input[type=radio]').isChecked(), 'the good one is')
    assert.equal(await first(), 'file-section', 'files first')
    assert.ok(await page.locator('#login-password').isVisible())
    assert.equal(await focused(), 'login-password')
    await page.screenshot({ path: path.join(SHOTS, 'login-ko-files.png'), fullPage: true })

    // Removing asks first, then forgets the file here (not the certificate).
    await row(old).getByRole('button', { name: /인증서를 이 브라우저에서 지우기/ }).click()
    assert.match(await row(old).getByRole('group').textContent() ?? '', /인증서가 폐기되지는 않으며/)
    await row(old).getByRole('button', { name: '지우기', exact: true }).click()
    await page.locator('#removed-status', { hasText: '지웠습니다' }).waitFor()
    assert.equal(await page.locator('.choice-row').count(), 1)
    await page.reload()
    await page.locator('.choice-row').first().waitFor()
    assert.equal(await page.locator('.choice-row').count(), 1, 'gone from the browser\'s store')
    assert.equal((await server.ctx.authority.find(current))!.status, 'good')

    // Near its end, the file says so; suspended, it says so and cannot be chosen, and no password is asked.
    await page.evaluate(async (days) => {
      const g = globalThis as unknown as { indexedDB: { open: (name: string) => { result: unknown; onsuccess: (() => void) | null } } }
      await new Promise<void>((resolve) => {
        const request = g.indexedDB.open('postcert')
        request.onsuccess = () => {
          const db = request.result as { transaction: (s: string, m: string) => { objectStore: (s: string) => { openCursor: () => { onsuccess: (() => void) | null; result: { value: { notAfter: string }; update: (v: unknown) => void; continue: () => void } | null } }; oncomplete: (() => void) | null } }
          const tx = db.transaction('certificates', 'readwrite')
          const cursor = tx.objectStore('certificates').openCursor()
          cursor.onsuccess = () => {
            if (!cursor.result) return
            cursor.result.update({ ...cursor.result.value, notAfter: new Date(Date.now() + days * 86_400_000 - 60_000).toISOString() })
            cursor.result.continue()
          }
          tx.oncomplete = () => resolve()
        }
      })
    }, 10)
    await page.reload()
    await page.locator('.choice-row').first().waitFor()
    assert.match(await row(current).locator('.badge').textContent() ?? '', /^10일 후 만료$/)
    await server.ctx.authority.suspend(current)
    try {
      await page.reload()
      await page.locator('.choice-row .badge').first().waitFor()
      assert.match(await row(current).locator('.badge').textContent() ?? '', /^효력정지$/)
      assert.ok(await row(current).locator('input[type=radio]').isDisabled())
      assert.ok(await page.locator('#login-password').isHidden())
      assert.equal(await first(), 'passkey-section')
    } finally {
      await server.ctx.authority.resume(current)
    }
    await context.close()
  })
})
