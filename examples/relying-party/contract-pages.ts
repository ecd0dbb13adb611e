// Demo Bank's contract pages: the contract to sign, and the signature as verified.
import type { CheckedSignature } from './contract.ts'
import { CONTRACT_TEXT, CONTRACT_TITLE, LOAN } from './contract.ts'
import { html, layout } from './pages.ts'

export function contractPage(): string {
  return layout('약정서 / Contract', html`
<h1>${CONTRACT_TITLE} <span lang="en">Loan contract</span></h1>
<p>아래 약정서와 대출 내용에 우체국 금융인증서로 전자서명해 주세요. 서명 화면은 PostCert에서 열립니다.
<span lang="en">Please sign the contract and the loan below with your Post Office certificate; PostCert opens the signing page.</span></p>
<pre class="contract">${CONTRACT_TEXT}</pre>
<dl class="facts"><dt>금액 <span lang="en">Amount</span></dt><dd>${LOAN.amount} ${LOAN.currency}</dd>
<dt>받는 분 <span lang="en">Payee</span></dt><dd>${LOAN.payee}</dd><dt>계좌 <span lang="en">Account</span></dt><dd>${LOAN.account}</dd></dl>
<p><a class="postcert-login" id="sign" href="/contract/sign"><img src="/static/postcert-mark.svg" alt=""><span>우체국 인증서로 서명<small lang="en">Sign with Post Office cert</small></span></a></p>
<p><a href="/">홈으로 <span lang="en">Home</span></a></p>
`)
}

export function signedPage(input: { checked: CheckedSignature; signatureId: string; tampered: boolean }): string {
  const { receipt, report } = input.checked
  const verdict = !report.valid
    ? html`<p class="notice error" id="verdict">서명이 유효하지 않습니다. <span lang="en">The signature is not valid.</span></p>`
    : report.valid_at_signing
      ? html`<p class="notice" id="verdict">서명 당시 유효한 서명입니다. <span lang="en">Valid at signing.</span></p>`
      : html`<p class="notice error" id="verdict">서명은 맞지만 서명 당시 인증서가 정상이 아니었습니다. <span lang="en">Signed, but the certificate was not in good standing then.</span></p>`
  const signer = receipt.signer as { serial: string; holder: string }
  return layout('서명 확인 / Signature', html`
<h1>전자서명 확인 <span lang="en">Signature verified</span></h1>
${input.tampered ? html`<p>약정서 문구를 한 곳 바꿔서 다시 검증했습니다. <span lang="en">Verified again with one change in the contract's text.</span></p>` : ''}
${verdict}
<dl class="facts">
<dt>서명 번호 <span lang="en">Signature</span></dt><dd><code id="signature-id">${input.signatureId}</code></dd>
<dt>서명 시각 <span lang="en">Signed at</span></dt><dd id="signed-at">${report.signed_at ?? ''}</dd>
<dt>서명자 <span lang="en">Signer</span></dt><dd id="signer">${report.signer?.subject ?? ''}</dd>
<dt>인증서 <span lang="en">Certificate</span></dt><dd><code>${signer.serial}</code> (${signer.holder === 'passkey' ? '패스키 passkey' : '인증서 파일 certificate file'})</dd>
<dt>약정서 문구 <span lang="en">Contract text</span></dt><dd id="text-matches">${report.documents?.[0]?.text_matches ? '서명한 문구와 같음 matches what was signed' : '서명한 문구와 다름 differs from what was signed'}</dd>
<dt>현재 인증서 상태 <span lang="en">Certificate now</span></dt><dd id="status-now">${report.status_now ?? ''}${report.revoked_at ? ` (${report.revoked_at}, ${report.revocation_reason ?? ''})` : ''}</dd>
</dl>
<details><summary>검사 항목 <span lang="en">Checks</span></summary>
<ul>${report.checks.map((c) => html`<li>${c.name}: ${c.ok ? 'ok' : `실패 failed ${c.detail ?? ''}`}</li>`)}</ul></details>
<details><summary>PostCert 영수증 (검증됨) <span lang="en">PostCert's receipt, verified</span></summary>
<pre>${JSON.stringify({ ...receipt, ocsp: '…', signature: '…' }, null, 2)}</pre></details>
<p><a id="tamper" href="/contract/signed?tampered=1">바뀐 문구로 검증해 보기 <span lang="en">Verify with a changed text</span></a></p>
<p><a href="/">홈으로 <span lang="en">Home</span></a></p>
`)
}
