import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness } from '../login/harness.ts'
import { signatureDetail } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('base64url')

describe('what is shown is what is signed', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()
  const { server, h, signing } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: '표시은행', redirectUri: 'https://shown.example.kr/cb' })
  })

  /** The refusal of an authorization request carrying this detail. */
  async function refusal(detail: unknown) {
    const started = await h.authorize(rp, { authorization_details: JSON.stringify([detail]) })
    const url = new URL(started.location)
    return { error: url.searchParams.get('error'), description: url.searchParams.get('error_description') }
  }

  it('refuses right-to-left letters, which reorder what the page shows, and scripts no Korean institution writes in', async () => {
    const base = signatureDetail()
    const transaction = (payee: string, account = '012-345-678901') => ({ ...base, transaction: { ...base.transaction, payee, account } })
    // \u05d0 123-456 789 would show as 789 123-456 \u05d0.
    assert.deepEqual(await refusal(transaction('\u05d0 123-456 789')), { error: 'invalid_authorization_details', description: 'transaction.payee: must be written in Hangul, Latin or Han letters, digits and common punctuation' })
    assert.match((await refusal(transaction('우체국은행', '012-\u0627-678901'))).description!, /^transaction\.account: /)
    assert.match((await refusal(transaction('Почта'))).description!, /^transaction\.payee: /)
    const text = '대출 금액 \u05d0 1,500,000원'
    assert.match((await refusal({ ...base, documents: [{ title: '약정서', text, sha256: sha256(text) }] })).description!, /^documents\[0\]\.text: must not contain right-to-left letters/)
    assert.match((await refusal({ ...base, documents: [{ ...base.documents[0], title: 'عقد' }] })).description!, /^documents\[0\]\.title: /)
  })

  it('a document PostCert cannot show as it is (a PDF): the page says so, and the text shown is signed beside the file', async () => {
    const pdf = Buffer.from('%PDF-1.7 the loan contract as a file')
    const summary = '대출 약정서 (요약): 대출 금액 1,500,000원, 기간 12개월.'
    const detail = { ...signatureDetail(), documents: [{ title: '대출 약정서 PDF', text: summary, mime_type: 'application/pdf', sha256: sha256(pdf) }] }
    const page = await signing.toSigningPage(rp, await h.subscriber(), detail)
    assert.match(page.step.page!, /이 문서\(application\/pdf\)는 화면에 그대로 보여줄 수 없습니다/)
    assert.match(page.step.page!, /<dd><bdi dir="ltr">우체국은행<\/bdi><\/dd>/, 'the payee isolated from its surroundings')
    const signed = JSON.parse(page.canonical) as { documents: { sha256: string; text_sha256?: string }[] }
    assert.deepEqual(signed.documents[0], { title: '대출 약정서 PDF', mime_type: 'application/pdf', sha256: sha256(pdf), text_sha256: sha256(summary) })

    const { evidence } = await signing.sign(rp, await h.subscriber(), detail)
    const verify = async (body: unknown) => await (await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Record<string, any>
    const shown = await verify({ ...evidence, request: { documents: [{ title: '대출 약정서 PDF', text: summary }] } })
    assert.equal(shown.valid, true, JSON.stringify(shown.checks))
    assert.equal(shown.documents[0].text_matches, true)
    const other = await verify({ ...evidence, request: { documents: [{ title: '대출 약정서 PDF', text: summary.replace('1,500,000', '15,000,000') }] } })
    assert.equal(other.valid, false)
    assert.equal(other.documents[0].text_matches, false)
  })
})
