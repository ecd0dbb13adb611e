// What the /me page shows of the claims PostCert released, with a plain-language meaning.
import { html, type ClaimRow } from './pages.ts'

export const ACR_HIGH = 'urn:postcert:loa:high'
export const ACR_SUBSTANTIAL = 'urn:postcert:loa:substantial'

const ACR_MEANING: Record<string, string> = {
  [ACR_HIGH]: '높음: 제조사 인증이 확인된 기기의 패스키 (PIN·생체 인증) / high: passkey on an attested device, with PIN or biometrics',
  [ACR_SUBSTANTIAL]: '상당: 비밀번호로 보호된 인증서 파일, 또는 기기 인증이 없는 패스키 / substantial: password-protected certificate file, or a passkey on an unattested device',
}

// RFC 8176 authentication method reference values PostCert uses.
const AMR_MEANING: Record<string, string> = {
  hwk: '하드웨어 키 / hardware-bound key',
  swk: '소프트웨어 키 / software key',
  user: '사용자 확인 (PIN·생체) / user verified (PIN, biometrics)',
  mfa: '다중 요소 / multi-factor',
  pwd: '비밀번호 / password',
}

/** The `certificate` claim (scope `certificate`): the certificate this login was made with. */
interface CertificateClaim {
  serial?: unknown
  'x5t#S256'?: unknown
  not_after?: unknown
}

type Claims = Record<string, unknown>

function text(value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(text).join(' ')
  return value === undefined ? '' : JSON.stringify(value)
}

/**
 * Rows for the claims present, ID token first: its signature was checked, and it is where acr,
 * amr and auth_time live. UserInfo adds the scope claims (profile, phone, certificate).
 */
export function claimRows(idToken: Claims, userinfo: Claims): { rows: ClaimRow[]; certificate: ClaimRow[] } {
  const claims: Claims = { ...userinfo, ...idToken }
  const rows: ClaimRow[] = []
  const add = (claim: string, label: ClaimRow['label'], value: unknown, meaning?: string) => {
    if (value !== undefined && value !== null) rows.push({ claim, label, value: text(value), meaning })
  }
  add('name', html`이름 <span lang="en">Name</span>`, claims.name)
  add('birthdate', html`생년월일 <span lang="en">Date of birth</span>`, claims.birthdate)
  add('phone_number', html`휴대폰 <span lang="en">Phone</span>`, claims.phone_number,
    claims.phone_number_verified === true ? '본인 명의 확인됨 / verified' : undefined)
  add('sub', html`이용자 식별자 <span lang="en">Subject</span>`, claims.sub, '이 은행에만 쓰이는 값 / pairwise: unique to this bank')
  add('acr', html`보안 등급 <span lang="en">Assurance level</span>`, claims.acr, ACR_MEANING[text(claims.acr)])
  const amr = Array.isArray(claims.amr) ? claims.amr.map(String) : undefined
  add('amr', html`인증 방법 <span lang="en">Methods</span>`, amr, amr?.map((m) => AMR_MEANING[m] ?? m).join(', '))
  const authTime = typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000).toISOString() : undefined
  add('auth_time', html`인증 시각 <span lang="en">Signed in at</span>`, claims.auth_time, authTime)
  if (typeof claims.ci === 'string') add('ci', html`연계정보 <span lang="en">Connecting information</span>`, claims.ci)

  const certificate: ClaimRow[] = []
  const cert = claims.certificate
  if (cert && typeof cert === 'object' && !Array.isArray(cert)) {
    const c = cert as CertificateClaim
    const push = (name: keyof CertificateClaim, label: ClaimRow['label'], meaning?: string) => {
      if (c[name] !== undefined) certificate.push({ claim: `certificate.${name}`, label, value: text(c[name]), meaning })
    }
    push('serial', html`일련번호 <span lang="en">Serial number</span>`, '16진수 / hexadecimal')
    push('x5t#S256', html`지문 <span lang="en">Thumbprint</span>`, '인증서 DER의 SHA-256 (base64url) / SHA-256 of the certificate')
    push('not_after', html`유효기간 만료 <span lang="en">Valid until</span>`)
  }
  return { rows, certificate }
}
