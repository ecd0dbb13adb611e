// The holder step of enrollment.
// Passkey: register a passkey, then sign the CA's challenge with it (the proof of possession).
// Certificate file: make a P-256 key in this browser, encrypt it under the certificate password
// (which never leaves the browser), keep it in IndexedDB, prove possession by signing the
// server's challenge, and store the certificate that comes back.
import { startAuthentication, startRegistration, browserSupportsWebAuthn } from '@simplewebauthn/browser'
import { encryptPkcs8, toPem } from '../holders/keyfile/encrypted-pkcs8.ts'
import { b64url, fromB64url } from '../holders/keyfile/login-proof.ts'
import { checkPassword } from '../holders/keyfile/password-policy.ts'
import { saveCertificate } from './key-store.ts'
import { listen } from './listen.ts'

const form = document.querySelector<HTMLFormElement>('#file-form')!
const password = document.querySelector<HTMLInputElement>('#password')!
const confirmation = document.querySelector<HTMLInputElement>('#password-confirm')!
const strength = document.querySelector<HTMLElement>('#strength')!
const status = document.querySelector<HTMLElement>('#progress')!
const error = document.querySelector<HTMLElement>('#holder-error')!
const button = form.querySelector<HTMLButtonElement>('button[type=submit]')!
const messages = JSON.parse(document.querySelector('#holder-messages')!.textContent) as Record<string, string>
const csrf = form.dataset.csrf!
// Enrollment's holder step, or a renewal's (/account/certificates/{serial}/renew): the same endpoints under another path.
const api = form.dataset.api || '/enroll/holder'

function showStrength(): void {
  if (!password.value) {
    strength.textContent = ''
    return
  }
  const verdict = checkPassword(password.value)
  strength.dataset.strength = verdict.strength
  strength.textContent = `${messages[`strength.${verdict.strength}`]}${verdict.problems.length ? ` — ${verdict.problems.map((p) => messages[`problem.${p}`]).join(' ')}` : ''}`
}
password.addEventListener('input', showStrength)
// An old complaint must not stay next to a password that no longer has the problem.
for (const input of [password, confirmation]) input.addEventListener('input', () => { error.hidden = true })

function fail(message: string): void {
  status.textContent = ''
  error.textContent = message
  error.hidden = false
  button.disabled = false
}

async function post(path: string, body?: unknown): Promise<Record<string, string>> {
  const res = await fetch(path, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    body: JSON.stringify(body ?? {}),
  })
  const json = await res.json().catch(() => ({})) as Record<string, string>
  if (!res.ok) throw new Error(json.error_description ?? `HTTP ${res.status}`)
  return json
}

listen(form, 'submit', async (event) => {
  event.preventDefault()
  error.hidden = true
  const verdict = checkPassword(password.value, confirmation.value)
  if (!verdict.ok) {
    fail(verdict.problems.map((p) => messages[`problem.${p}`]).join(' '))
    ;(verdict.problems.includes('mismatch') && verdict.problems.length === 1 ? confirmation : password).focus()
    return
  }
  button.disabled = true
  try {
    status.textContent = messages['progress.key']!
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey))
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey))
    status.textContent = messages['progress.encrypt']!
    const encryptedKeyPem = toPem(await encryptPkcs8(pkcs8, password.value), 'ENCRYPTED PRIVATE KEY')
    pkcs8.fill(0)
    // Saved before the certificate is asked for: a crash after issuance loses nothing.
    const id = b64url(await crypto.subtle.digest('SHA-256', spki))
    await saveCertificate({ id, encryptedKeyPem, createdAt: new Date().toISOString() })

    status.textContent = messages['progress.issue']!
    const { challenge } = await post(`${api}/challenge`)
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, fromB64url(challenge!))
    const issued = await post(`${api}/file`, { spki: b64url(spki), signature: b64url(signature), challenge })
    await saveCertificate({
      id, encryptedKeyPem, serial: issued.serial, name: issued.name, certificatePem: issued.certificate, chainPem: issued.chain,
      notAfter: issued.not_after, createdAt: new Date().toISOString(),
    })
    status.textContent = messages['progress.done']!
    location.assign(issued.next!)
  } catch (err) {
    fail(`${messages['error.failed']} (${(err as Error).message})`)
  }
})

const passkeyButton = document.querySelector<HTMLButtonElement>('#passkey')!
const passkeyStatus = document.querySelector<HTMLElement>('#passkey-progress')!
const passkeyError = document.querySelector<HTMLElement>('#passkey-error')!

if (!browserSupportsWebAuthn()) {
  passkeyButton.disabled = true
  passkeyError.textContent = messages['passkey.unsupported']!
  passkeyError.hidden = false
}

listen(passkeyButton, 'click', async () => {
  passkeyError.hidden = true
  passkeyButton.disabled = true
  try {
    passkeyStatus.textContent = messages['passkey.create']!
    const { registration, challenge } = await post(`${api}/passkey/options`) as unknown as { registration: Parameters<typeof startRegistration>[0]['optionsJSON']; challenge: string }
    const created = await startRegistration({ optionsJSON: registration })
    passkeyStatus.textContent = messages['passkey.confirm']!
    const assertion = await startAuthentication({
      optionsJSON: { challenge, rpId: registration.rp.id, allowCredentials: [{ id: created.id, type: 'public-key', transports: created.response.transports }], userVerification: 'required', timeout: 120_000 },
    })
    passkeyStatus.textContent = messages['progress.issue']!
    const issued = await post(`${api}/passkey`, { registration: created, assertion, challenge })
    passkeyStatus.textContent = messages['progress.done']!
    location.assign(issued.next!)
  } catch (err) {
    passkeyStatus.textContent = ''
    passkeyError.textContent = `${messages['error.failed']} (${(err as Error).message})`
    passkeyError.hidden = false
    passkeyButton.disabled = false
  }
})
