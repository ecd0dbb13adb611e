// Demo Bank's pages. Every interpolated value goes through `html`, which escapes it unless it is
// already markup built by `html`: claims and query parameters can never inject markup.

export class SafeHtml {
  readonly value: string

  constructor(value: string) {
    this.value = value
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === undefined || value === null || value === false) return ''
  // Pages hold text, numbers and SafeHtml: an object would show as "[object Object]".
  if (typeof value === 'object') throw new TypeError('a page can render text, numbers and SafeHtml, not an object')
  return escapeHtml(String(value as string | number | boolean | bigint | symbol))
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  return new SafeHtml(strings.reduce((out, part, i) => out + render(values[i - 1]) + part))
}

export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · 데모 은행 / Demo Bank</title>
<link rel="stylesheet" href="/static/demo-bank.css">
<link rel="stylesheet" href="/static/postcert-login-button.css">
</head>
<body>
<header class="top"><a href="/">데모 은행 <span lang="en">Demo Bank</span></a></header>
<main>
${body}
</main>
<footer class="foot">가상의 은행입니다. PostCert 연동 예제. <span lang="en">A fictitious bank: an example PostCert integration.</span></footer>
</body>
</html>
`.value
}

export function homePage(input: { name?: string; csrf?: string; signedOut: boolean }): string {
  const loggedIn = input.csrf !== undefined
  return layout('홈 / Home', html`
<h1>데모 은행에 오신 것을 환영합니다 <span lang="en">Welcome to Demo Bank</span></h1>
${input.signedOut ? html`<p class="notice" role="status">로그아웃되었습니다. <span lang="en">You are signed out.</span></p>` : ''}
${loggedIn
    ? html`<p>${input.name ?? ''}님, 로그인되어 있습니다. <span lang="en">You are signed in.</span></p>
<p><a class="action" id="me" href="/me">내 정보 보기 <span lang="en">Your verified details</span></a></p>
${logoutForm(input.csrf!)}`
    : html`<p>계좌 조회와 이체를 하려면 우체국 금융인증서로 로그인하세요.
<span lang="en">Sign in with your Post Office certificate to see your accounts.</span></p>
<p><a class="postcert-login" id="login" href="/login"><img src="/static/postcert-mark.svg" alt=""><span>우체국 인증서로 로그인<small lang="en">Login with Post Office cert</small></span></a></p>
<p><a id="login-passkey" href="/login?acr=high">패스키로만 로그인 (보안 등급 높음) <span lang="en">With a passkey only (high assurance)</span></a></p>`}
<p><a class="action" id="contract" href="/contract">대출 약정서에 전자서명하기 <span lang="en">Sign the loan contract</span></a></p>
`)
}

function logoutForm(csrf: string): SafeHtml {
  return html`<form method="post" action="/logout">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" id="logout">로그아웃 <span lang="en">Sign out</span></button>
</form>`
}

export interface ClaimRow {
  /** The claim's name, also the row's data-claim attribute: a browser test reads the value by it. */
  claim: string
  label: SafeHtml
  value: string
  meaning?: string
}

export function mePage(input: { rows: ClaimRow[]; certificate: ClaimRow[]; raw: unknown; csrf: string; canRefresh: boolean; refreshed: boolean }): string {
  const table = (caption: SafeHtml, rows: ClaimRow[]) => html`<table>
<caption>${caption}</caption>
<thead><tr><th scope="col">항목 <span lang="en">Claim</span></th><th scope="col">값 <span lang="en">Value</span></th><th scope="col">뜻 <span lang="en">Meaning</span></th></tr></thead>
<tbody>
${rows.map((r) => html`<tr><th scope="row">${r.label}<br><code>${r.claim}</code></th><td data-claim="${r.claim}">${r.value}</td><td>${r.meaning ?? ''}</td></tr>
`)}</tbody>
</table>`
  return layout('내 정보 / Your details', html`
<h1>확인된 내 정보 <span lang="en">Your verified details</span></h1>
<p>PostCert가 서명한 ID 토큰과 UserInfo 응답의 내용입니다.
<span lang="en">What PostCert vouched for, from the signed ID token and the UserInfo response.</span></p>
${table(html`본인 정보 <span lang="en">Identity</span>`, input.rows)}
${input.certificate.length ? table(html`로그인에 쓴 인증서 <span lang="en">Certificate used for this login</span>`, input.certificate) : ''}
<details>
<summary>받은 클레임 전체 (JSON) <span lang="en">All claims received</span></summary>
<pre>${JSON.stringify(input.raw, null, 2)}</pre>
</details>
${input.refreshed ? html`<p class="notice" role="status" id="refreshed">PostCert에서 정보를 새로 받았습니다. <span lang="en">Your details were refreshed at PostCert.</span></p>` : ''}
${input.canRefresh ? html`<form method="post" action="/refresh">
<input type="hidden" name="csrf" value="${input.csrf}">
<button type="submit" id="refresh">정보 새로 받기 <span lang="en">Refresh my details</span></button>
</form>` : ''}
${logoutForm(input.csrf)}
<p><a href="/">홈으로 <span lang="en">Home</span></a></p>
`)
}

export function errorPage(input: { title: SafeHtml; explanation: SafeHtml; code?: string; description?: string }): string {
  return layout('오류 / Error', html`
<h1>${input.title}</h1>
<p>${input.explanation}</p>
${input.code ? html`<dl class="facts"><dt>error</dt><dd id="error-code"><code>${input.code}</code></dd>
${input.description ? html`<dt>error_description</dt><dd id="error-description">${input.description}</dd>` : ''}</dl>` : ''}
<p><a href="/">홈으로 돌아가기 <span lang="en">Back to the home page</span></a></p>
`)
}
