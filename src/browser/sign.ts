// The signing page: the subscriber signs the signing payload (src/signing/payload.ts) with a
// certificate file (the password opens the key here; a compact JWS over the payload bytes) or a
// passkey (a WebAuthn assertion whose challenge is the SHA-256 of the payload bytes).
import { startAuthentication } from '@simplewebauthn/browser'
import { b64url, toX5c } from '../holders/keyfile/compact-jws.ts'
import { createSignatureCms } from '../holders/keyfile/signature-cms.ts'
import { createSignatureJws } from '../holders/keyfile/signature-jws.ts'
import { payloadSha256 } from '../signing/payload.ts'
import { openChosenKey, showChoices, usableCertificates, withStates } from './certificate-choice.ts'
import { listen } from './listen.ts'

const root = document.querySelector<HTMLElement>('#sign')!
const { uid, csrf } = root.dataset as { uid: string; csrf: string }
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

let certificates = await withStates(await usableCertificates())
const showCertificates = () => showChoices(form.querySelector('fieldset')!, certificates, undefined, messages, async (removed) => {
  certificates = certificates.filter((c) => c.id !== removed.id)
  showCertificates()
})
showCertificates()

listen(form, 'submit', async (event) => {
  event.preventDefault()
  error.hidden = true
  const opened = await openChosenKey(form, certificates, password, messages, () => {
    for (const b of document.querySelectorAll<HTMLButtonElement>('#sign button')) b.disabled = true
    progress.textContent = messages.unlocking!
  })
  if ('error' in opened) return fail(opened.error)
  try {
    progress.textContent = messages.signing!
    const signedAt = new Date()
    const jws = await createSignatureJws(opened.key, opened.chain, payload, signedAt)
    const cms = base64(await createSignatureCms(opened.key, opened.chain, payload, signedAt))
    location.assign((await post('sign/file', { jws, cms })).redirect)
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
