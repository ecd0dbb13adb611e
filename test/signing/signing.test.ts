import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import * as jose from 'jose'
import * as client from 'openid-client'
import { singleStatus } from '../../src/ca/ocsp.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { openssl } from '../helpers/pki.ts'
import { tempDir } from '../helpers/server.ts'
import { LoginHarness, type Holder } from '../login/harness.ts'
import { CONTRACT, sha256, signatureDetail, SigningHarness, type SigningPage } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

describe('electronic signatures through authorization_details (certificate file)', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()

  const { server, h } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: 'Signing Bank', redirectUri: 'https://sign.example.kr/cb' })
    signing = new SigningHarness(h, server, clock)
  })

  let signing: SigningHarness
  const toSigningPage = (holder: Holder, detail?: unknown) => signing.toSigningPage(rp, holder, detail)
  const fileSignature = (holder: Holder, payload: string, cmsPayload?: string) => signing.fileSignature(holder, payload, cmsPayload)
  const signFile = (page: SigningPage, holder: Holder, payload?: string, cmsPayload?: string) => signing.signFile(page, holder, payload, cmsPayload)

  it('advertises the signature type in discovery', async () => {
    const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>
    assert.deepEqual(discovery.authorization_details_types_supported, ['postcert_signature'])
  })

  it('shows every document (escaped) and the transaction, then returns a signature with a receipt anyone can verify', async () => {
    const holder = await h.subscriber()
    const page = await toSigningPage(holder)
    assert.match(page.step.page!, /<h3>대출 약정서<\/h3>/)
    assert.match(page.step.page!, /<strong>1,500,000원<\/strong>/)
    assert.match(page.step.page!, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
    assert.doesNotMatch(page.step.page!, /<script>alert/)
    // The transaction's amount as a Korean reads it (#17): 원, not the ISO code.
    assert.match(page.step.page!, /<dd><strong>1,500,000원<\/strong><\/dd>/)
    assert.match(page.step.page!, /우체국은행/)
    // The document's hash is there for who wants it, folded away (#17).
    assert.match(page.step.page!, new RegExp(`<details class="document-hash"><summary>자세히</summary>\\s*<p class="muted">SHA-256 <code>${sha256(CONTRACT)}</code></p>\\s*</details>`))

    const signed = await signFile(page, holder)
    assert.equal(signed.status, 200, signed.text)
    const callback = (await h.follow(page.flow.browser, signed.body.redirect)).callback!
    const tokens = await client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: page.flow.verifier, expectedState: page.flow.state, expectedNonce: page.flow.nonce })
    const [detail] = tokens.authorization_details as unknown as Record<string, any>[]
    assert.equal(detail!.type, 'postcert_signature')
    assert.match(detail!.signature_id, /^sig_/)
    assert.deepEqual(detail!.documents, [{ title: '대출 약정서', sha256: sha256(CONTRACT) }])
    assert.equal(detail!.payload_sha256, sha256(page.canonical))

    // The subscriber's JWS verifies with the certificate in its own x5c, and carries the payload.
    const { x5c } = jose.decodeProtectedHeader(detail!.signature.jws)
    const leaf = await jose.importX509(new X509Certificate(Buffer.from(x5c![0]!, 'base64')).toString(), 'ES256')
    const verified = await jose.compactVerify(detail!.signature.jws, leaf)
    assert.equal(new TextDecoder().decode(verified.payload), page.canonical)

    // The detached CMS verifies with openssl against the published chain, over the payload bytes.
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, 'payload.json'), page.canonical)
    fs.writeFileSync(path.join(dir, 'signature.p7s'), Buffer.from(detail!.signature.cms, 'base64'))
    fs.writeFileSync(path.join(dir, 'chain.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
    const cms = await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(dir, 'signature.p7s'), '-content', path.join(dir, 'payload.json'), '-CAfile', path.join(dir, 'chain.pem'), '-out', path.join(dir, 'out')])
    assert.equal(cms.code, 0, cms.output)
    fs.writeFileSync(path.join(dir, 'payload.json'), page.canonical.replace('대출', '대여'))
    const changed = await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(dir, 'signature.p7s'), '-content', path.join(dir, 'payload.json'), '-CAfile', path.join(dir, 'chain.pem'), '-out', path.join(dir, 'out')])
    assert.notEqual(changed.code, 0, 'a changed document fails verification')

    // PostCert's receipt verifies against the JWKS, names the signer and carries a good OCSP response.
    const jwks = jose.createLocalJWKSet(await (await fetch(`${server.url}/jwks`)).json() as jose.JSONWebKeySet)
    const { payload: receipt, protectedHeader } = await jose.jwtVerify(detail!.receipt, jwks, { issuer: server.issuer, audience: rp.clientId })
    assert.equal(protectedHeader.typ, 'postcert-signature-receipt+jwt')
    assert.equal(receipt.sub, tokens.claims()!.sub, 'the pairwise subject of this institution')
    assert.equal(receipt.jti, detail!.signature_id)
    assert.equal(receipt.payload_sha256, detail!.payload_sha256)
    assert.equal((receipt.signer as { serial: string }).serial, holder.certificate.serial)
    assert.equal(receipt.certificate_status, 'good')
    const ocsp = Buffer.from(receipt.ocsp as string, 'base64')
    assert.equal(singleStatus(ocsp), 'good')
    fs.writeFileSync(path.join(dir, 'ocsp.der'), ocsp)
    fs.writeFileSync(path.join(dir, 'issuing.pem'), new X509Certificate(new Uint8Array((await server.ctx.ca.issuing()).certificate.rawData)).toString())
    fs.writeFileSync(path.join(dir, 'signer.pem'), new X509Certificate(holder.certificate.der).toString())
    const checked = await openssl(['ocsp', '-respin', path.join(dir, 'ocsp.der'), '-issuer', path.join(dir, 'issuing.pem'), '-sha256', '-cert', path.join(dir, 'signer.pem'), '-CAfile', path.join(dir, 'chain.pem')])
    assert.match(checked.output, /Response verify OK/)
    assert.match(checked.output, /signer\.pem: good/)

    // Archived, append-only.
    const row = await server.ctx.db.selectFrom('signature').selectAll().where('id', '=', detail!.signature_id).executeTakeFirstOrThrow()
    assert.equal(row.payload, page.canonical)
    assert.equal(row.receipt, detail!.receipt)
    await assert.rejects(server.ctx.db.updateTable('signature').set({ payload: 'changed' }).where('id', '=', row.id).execute(), /append-only|permission denied/)
    await assert.rejects((server.database.ownerDb ?? server.ctx.db).updateTable('signature').set({ payload: 'changed' }).where('id', '=', row.id).execute(), /append-only/)
  })

  it('refuses a signature over another payload, a replay, and another subscriber\'s certificate', async () => {
    const holder = await h.subscriber()
    const page = await toSigningPage(holder)
    const changed = page.canonical.replace(sha256(CONTRACT), sha256(`${CONTRACT} (changed)`))
    const tampered = await signFile(page, holder, changed)
    assert.equal(tampered.status, 400)
    assert.equal(tampered.body.error, 'invalid_signature')

    const cmsOverOther = await signFile(await toSigningPage(holder), holder, (await toSigningPage(holder)).canonical, changed)
    assert.equal(cmsOverOther.status, 400)
    assert.match(cmsOverOther.body.error_description, /messageDigest/)

    const stranger = await h.subscriber()
    const foreign = await signFile(await toSigningPage(holder), stranger)
    assert.equal(foreign.status, 403)
    assert.equal(foreign.body.error, 'wrong_certificate')

    const fresh = await toSigningPage(holder)
    const signature = await fileSignature(holder, fresh.canonical)
    assert.equal((await h.api(fresh.flow.browser, fresh.csrf, `${fresh.step.path}/sign/file`, signature)).status, 200)
    const again = await h.api(fresh.flow.browser, fresh.csrf, `${fresh.step.path}/sign/file`, signature)
    assert.ok(again.status >= 400 && again.status < 500, 'a replay is refused')
  })

  it('keeps to the assurance asked for, names the subscriber as the ID token does, and refuses a payload that is not one', async () => {
    const holder = await h.subscriber()
    // Only attested passkeys will do, and this subscriber has a certificate file only: the
    // institution is told at login (the signing page would refuse a file too: SigningService).
    const strict = await h.begin(rp, { authorization_details: JSON.stringify([signatureDetail()]), acr_values: 'urn:postcert:loa:high' })
    const refused = (await h.prove(strict, holder)).response.body.redirect as string
    const told = await h.follow(strict.browser, refused)
    assert.equal(told.callback?.searchParams.get('error'), 'unmet_authentication_requirements')

    const publicRp = await h.relyingParty({ name: 'Public Subject Bank', redirectUri: 'https://public.example.kr/cb', publicSubject: true, metadata: { subject_type: 'public' } })
    const { evidence, tokens } = await signing.sign(publicRp, holder)
    const receipt = jose.decodeJwt(evidence.receipt)
    assert.equal(receipt.sub, tokens.claims()!.sub)
    assert.equal(receipt.sub, holder.id)

    const page = await toSigningPage(holder)
    const passkey = await h.api(page.flow.browser, page.csrf, `${page.step.path}/sign/passkey`, { assertion: { id: 'x', response: {} }, payload: 'null' })
    assert.equal(passkey.status, 400)
    assert.equal(passkey.body.error, 'invalid_signature')
  })

  it('returns access_denied when the subscriber declines, and archives nothing', async () => {
    const holder = await h.subscriber()
    const page = await toSigningPage(holder)
    const declined = await page.flow.browser.post(`${page.step.path}/consent`).type('form').send({ csrf: page.csrf, decision: 'deny' }).expect(303)
    const back = await h.follow(page.flow.browser, declined.headers.location!)
    assert.equal(back.callback?.searchParams.get('error'), 'access_denied')
    const approved = await page.flow.browser.post(`${page.step.path}/consent`).type('form').send({ csrf: page.csrf, decision: 'approve' })
    assert.ok(approved.status >= 400, 'a signature request cannot be approved without signing')
    assert.equal((await server.ctx.db.selectFrom('signature').select('id').where('subscriber_id', '=', holder.id).execute()).length, 0)
  })

  it('refuses malformed, oversized, unknown and mismatched details with a reason, at /auth and through PAR', async () => {
    const doc = signatureDetail().documents[0]!
    const cases: [unknown[], RegExp][] = [
      [[{ type: 'payment_initiation' }], /unsupported authorization details type/],
      [[signatureDetail({ extra: true })], /unknown member "extra"/],
      [[signatureDetail({ documents: Array.from({ length: 21 }, () => doc) })], /at most 20 documents/],
      [[signatureDetail({ documents: [{ ...doc, sha256: sha256('another text') }] })], /documents\[0\]\.sha256: is not the SHA-256 of its text/],
      [[signatureDetail({ transaction: { amount: '-5', currency: 'KRW', payee: 'a', account: 'b' } })], /transaction\.amount/],
      [[{ type: 'postcert_signature' }], /nothing to sign/],
      [[signatureDetail({ transaction: { amount: '1', currency: 'KRW', payee: '홍길동\u202e', account: 'b' } })], /bidirectional override/],
      [[signatureDetail(), signatureDetail()], /one postcert_signature detail per request/],
    ]
    for (const [details, reason] of cases) {
      const started = await h.authorize(rp, { authorization_details: JSON.stringify(details) })
      const url = new URL(started.location)
      assert.equal(url.searchParams.get('error'), 'invalid_authorization_details', JSON.stringify(details).slice(0, 80))
      assert.match(url.searchParams.get('error_description') ?? '', reason)

      const par = await fetch(`${server.url}/request`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ client_id: rp.clientId, response_type: 'code', redirect_uri: rp.redirectUri, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', authorization_details: JSON.stringify(details) }),
      })
      assert.equal(par.status, 400)
      const body = await par.json() as { error: string; error_description: string }
      assert.equal(body.error, 'invalid_authorization_details')
      assert.match(body.error_description, reason)
    }
    const notJson = await h.authorize(rp, { authorization_details: '[{' })
    assert.equal(new URL(notJson.location).searchParams.get('error'), 'invalid_authorization_details')
  })

  it('takes a long contract through PAR, beyond oidc-provider\'s own 56 KiB body limit', async () => {
    const holder = await h.subscriber()
    const text = `# 장기 약정서\n\n${'제1조 이 약정은 길게 씁니다. '.repeat(4000)}끝.`
    const detail = signatureDetail({ documents: [{ title: '장기 약정서', text, sha256: sha256(text) }] })
    const verifier = client.randomPKCECodeVerifier()
    const par = await client.buildAuthorizationUrlWithPAR(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid', state: 'long',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      authorization_details: JSON.stringify([detail]),
    })
    const flow = await h.begin(rp, {}, undefined, par)
    const { response } = await h.prove(flow, holder)
    const step = await h.follow(flow.browser, response.body.redirect)
    assert.match(step.page ?? '', /끝\./, 'the whole text on the signing page')
    const tooLong = await fetch(`${server.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ client_id: rp.clientId, response_type: 'code', scope: 'openid', filler: 'x'.repeat(3 * 1024 * 1024) }),
    })
    assert.equal(tooLong.status, 413)
  })

  it('accepts a signature request pushed through PAR', async () => {
    const holder = await h.subscriber()
    const verifier = client.randomPKCECodeVerifier()
    const par = await client.buildAuthorizationUrlWithPAR(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid', state: 'par-state',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      authorization_details: JSON.stringify([signatureDetail()]),
    })
    const flow = await h.begin(rp, {}, undefined, par)
    const { response } = await h.prove(flow, holder)
    const step = await h.follow(flow.browser, response.body.redirect)
    assert.match(step.page ?? '', /대출 약정서/)
  })
})
