// The signing page: the subscriber signs the signing payload (src/signing/payload.ts) with a
// certificate file (the password opens the key here; a compact JWS over the payload bytes) or a
// passkey (a WebAuthn assertion whose challenge is the SHA-256 of the payload bytes).
import { startAuthentication } from '@simplewebauthn/browser'
import { b64url, toX5c } from '../holders/keyfile/compact-jws.ts'
import { createSignatureCms } from '../holders/keyfile/signature-cms.ts'
import { createSignatureJws } from '../holders/keyfile/signature-jws.ts'
import { payloadSha256 } from '../signing/payload.ts'
import { chosenCertificate, openChosenKey, orderWays, showChoices, usableCertificates, withStates } from './certificate-choice.ts'
import { forgetUnlocked, unlockedFor } from './key-store.ts'
import { listen } from './listen.ts'

const root = document.querySelector<HTMLElement>('#sign')!
const { uid, csrf, handoff } = root.dataset as { uid: string; csrf: string; handoff?: string }
const { errors, ...messages } = JSON.parse(document.querySelector('#sign-messages')!.textContent) as Record<string, string> & { errors: Record<string, string> }
const { canonical } = JSON.parse(document.querySelector('#sign-payload')!.textContent) as { canonical: string }
const payload = new TextEncoder().encode(canonical)
/** Standard base64 of DER, as x5c members are written. */
const base64 = (der: Uint8Array) => toX5c([der])[0]!

const error = document.querySelector<HTMLElement>('#sign-error')!
const progress = document.querySelector<HTMLElement>('#sign-progress')!
const form = document.querySelector<HTMLFormElement>('#file-sign')!
const password = document.querySelector<HTMLInputElement>('#sign-password')!
const passkeyButton = document.querySelector<HTMLButtonElement>('#passkey-sign')!

class SigningRefused extends Error {
  readonly code: string

  constructor(code: string, description: string) {
    super(errors[code] ?? description)
    this.code = code
  }
}

function fail(message: string): void {
  progress.textContent = ''
  error.textContent = message
  error.hidden = false
  for (const b of document.querySelectorAll<HTMLButtonElement>('#sign button')) b.disabled = false
}
const failWith = (err: unknown) => fail(err instanceof SigningRefused && errors[err.code] ? err.message : `${messages.failed} (${(err as Error).message})`)

async function post(path: string, body: unknown): Promise<{ redirect: string }> {
  const res = await fetch(`/interaction/${uid}/${path}`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body),
  })
  const json = await res.json().catch(() => ({})) as Record<string, unknown>
  if (!res.ok) throw new SigningRefused(typeof json.error === 'string' ? json.error : '', typeof json.error_description === 'string' ? json.error_description : `HTTP ${res.status}`)
  return json as { redirect: string }
}

// The key the login of this same request opened, if it did (login.ts): signing with it asks no password again.
const unlocked = handoff ? await unlockedFor(handoff) : undefined
const notice = document.querySelector<HTMLElement>('#unlocked-notice')!

let certificates = await withStates(await usableCertificates())
const showCertificates = (preferred?: string) => showChoices(form.querySelector('fieldset')!, certificates, preferred, messages, async (removed) => {
  certificates = certificates.filter((c) => c.id !== removed.id)
  showCertificates()
  followChoice()
})
showCertificates(unlocked?.certificateId)

const ways = { ways: document.querySelector<HTMLElement>('#ways')!, fileSection: document.querySelector<HTMLElement>('#file-section')!,
  passkeySection: document.querySelector<HTMLElement>('#passkey-section')!, form, fileButton: document.querySelector<HTMLButtonElement>('#file-sign-button')!, passkeyButton }

/** The opened key serves the certificate it was opened for; choosing another asks its password. */
const useUnlocked = () => unlocked !== undefined && chosenCertificate(form, certificates)?.id === unlocked.certificateId
function followChoice(): void {
  orderWays(ways, certificates)
  const ready = useUnlocked()
  notice.hidden = !ready
  for (const element of form.querySelectorAll<HTMLElement>('.needs-password')) element.hidden = ready || element.hidden
}
form.addEventListener('change', followChoice)
followChoice()

listen(form, 'submit', async (event) => {
  event.preventDefault()
  error.hidden = true
  const busy = () => {
    for (const b of document.querySelectorAll<HTMLButtonElement>('#sign button')) b.disabled = true
    progress.textContent = messages.unlocking!
  }
  const opened = useUnlocked() ? (busy(), unlocked!) : await openChosenKey(form, certificates, password, messages, busy)
  if ('error' in opened) return fail(opened.error)
  try {
    progress.textContent = messages.signing!
    const signedAt = new Date()
    const jws = await createSignatureJws(opened.key, opened.chain, payload, signedAt)
    const cms = base64(await createSignatureCms(opened.key, opened.chain, payload, signedAt))
    const { redirect } = await post('sign/file', { jws, cms })
    if (handoff) await forgetUnlocked(handoff) // used once
    location.assign(redirect)
  } catch (err) {
    failWith(err)
  }
})

listen(passkeyButton, 'click', async () => {
  error.hidden = true
  passkeyButton.disabled = true
  try {
    // The passkey signs the payload's SHA-256 as its challenge; any of the subscriber's passkeys may answer.
    const challenge = b64url(await payloadSha256(payload))
    const assertion = await startAuthentication({ optionsJSON: { challenge, rpId: location.hostname, userVerification: 'required', timeout: 120_000 } })
    location.assign((await post('sign/passkey', { assertion, payload: canonical })).redirect)
  } catch (err) {
    failWith(err)
  }
})
