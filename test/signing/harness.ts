import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as client from 'openid-client'
import { createSignatureCms } from '../../src/holders/keyfile/signature-cms.ts'
import { createSignatureJws } from '../../src/holders/keyfile/signature-jws.ts'
import type { Clock } from '../../src/util/clock.ts'
import type { TestServer } from '../helpers/server.ts'
import type { Holder, LoginHarness } from '../login/harness.ts'

export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url')
export const CONTRACT = '# 대출 약정서\n\n제1조 대출 금액은 **1,500,000원**입니다.\n\n<script>alert(1)</script>'
export const signatureDetail = (overrides: Record<string, unknown> = {}) => ({
  type: 'postcert_signature',
  documents: [{ title: '대출 약정서', text: CONTRACT, text_format: 'markdown', sha256: sha256(CONTRACT) }],
  transaction: { amount: '1500000', currency: 'KRW', payee: '우체국은행', account: '012-345-678901' },
  ...overrides,
})

type RelyingParty = Awaited<ReturnType<LoginHarness['relyingParty']>>
export type SigningPage = Awaited<ReturnType<SigningHarness['toSigningPage']>>

/** Signs the way the signing page's script does, with a programmatic certificate-file holder. */
export class SigningHarness {
  readonly #h: LoginHarness
  readonly #server: TestServer
  readonly #clock: Clock

  constructor(h: LoginHarness, server: TestServer, clock: Clock) {
    this.#h = h
    this.#server = server
    this.#clock = clock
  }

  /** Login with the holder, up to the signing page. */
  async toSigningPage(rp: RelyingParty, holder: Holder, detail: unknown = signatureDetail()) {
    const flow = await this.#h.begin(rp, { authorization_details: JSON.stringify([detail]) })
    const { response } = await this.#h.prove(flow, holder)
    assert.equal(response.status, 200, response.text)
    const step = await this.#h.follow(flow.browser, response.body.redirect)
    assert.ok(step.page, 'the signing page')
    const canonical = JSON.parse(step.page.match(/id="sign-payload">([^<]+)</)![1]!).canonical as string
    return { rp, flow, step, canonical, csrf: step.page.match(/data-csrf="([^"]+)"/)![1]! }
  }

  async chainOf(holder: Holder): Promise<Uint8Array[]> {
    return [holder.certificate.der, new Uint8Array((await this.#server.ctx.ca.issuing()).certificate.rawData)]
  }

  /** What the signing page's script sends: the JWS and the detached CMS over the same bytes. */
  async fileSignature(holder: Holder, payload: string, cmsPayload = payload) {
    const [key, chain] = [await this.#h.webKey(holder.key), await this.chainOf(holder)]
    return {
      jws: await createSignatureJws(key, chain, new TextEncoder().encode(payload), this.#clock.now()),
      cms: Buffer.from(await createSignatureCms(key, chain, new TextEncoder().encode(cmsPayload), this.#clock.now())).toString('base64'),
    }
  }

  async signFile(page: SigningPage, holder: Holder, payload = page.canonical, cmsPayload = payload) {
    return this.#h.api(page.flow.browser, page.csrf, `${page.step.path}/sign/file`, await this.fileSignature(holder, payload, cmsPayload))
  }

  /** A whole signature: page, signature, code, tokens (DPoP-bound with `DPoP`); returns the token response's detail and the tokens. */
  async sign(rp: RelyingParty, holder: Holder, detail: unknown = signatureDetail(), options: { DPoP?: client.DPoPHandle } = {}) {
    const page = await this.toSigningPage(rp, holder, detail)
    const signed = await this.signFile(page, holder)
    assert.equal(signed.status, 200, signed.text)
    const callback = (await this.#h.follow(page.flow.browser, signed.body.redirect)).callback!
    const tokens = await client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: page.flow.verifier, expectedState: page.flow.state, expectedNonce: page.flow.nonce }, undefined, options)
    const [evidence] = tokens.authorization_details as unknown as Record<string, any>[]
    return { page, tokens, evidence: evidence! }
  }
}
