// The login page: prove possession of the certificate.
// Certificate file: the password opens the key here (a wrong password fails here, with no server
// call); the key signs a JWS over the server's single-use challenge. Passkey: a WebAuthn assertion
// over the challenge.
import { startAuthentication } from '@simplewebauthn/browser'
import { NotACertificateError, summarizeCertificate } from '../der/certificate-summary.ts'
import { CertificateFileError, certificatesIn, parseBackup } from '../holders/keyfile/certificate-file.ts'
import { b64url, createLoginProof } from '../holders/keyfile/login-proof.ts'
import { openChosenKey, orderWays, showChoices, usableCertificates, withStates, type ListedCertificate } from './certificate-choice.ts'
import { keepUnlocked, loadBySerial, saveCertificate, UNLOCKED_TTL_MS, type StoredCertificate } from './key-store.ts'
import { listen } from './listen.ts'

const root = document.querySelector<HTMLElement>('#login')!
const { uid, csrf, issuer, loginHint, handoff } = root.dataset as { uid: string; csrf: string; issuer: string; loginHint?: string; handoff?: string }
const { errors, ...messages } = JSON.parse(document.querySelector('#login-messages')!.textContent) as Record<string, string> & { errors: Record<string, string> }

/** A refusal from the server, shown in the page's language when we know its code. */
class LoginRefused extends Error {
  readonly code: string

  constructor(code: string, description: string) {
    super(errors[code] ?? description)
    this.code = code
  }
}
const error = document.querySelector<HTMLElement>('#login-error')!
const progress = document.querySelector<HTMLElement>('#login-progress')!
const fieldset = document.querySelector<HTMLFieldSetElement>('#certificates')!
const form = document.querySelector<HTMLFormElement>('#file-login')!
const password = document.querySelector<HTMLInputElement>('#login-password')!
const passkeyButton = document.querySelector<HTMLButtonElement>('#passkey-login')!

/**
 * The way forward from a refusal, as a link (its text, loginjs.*): a new certificate, or, with the
 * identity proven again at /enroll, resuming a suspended one or reporting one that others may be
 * trying. The enrollment leads back to this login when it is done.
 */
const WAY_FORWARD: Record<string, string> = {
  certificate_expired: 'get_new', certificate_revoked: 'get_new', certificate_unknown: 'get_new',
  certificate_suspended: 'resume', certificate_locked: 'report_lost',
}

function fail(message: string, code?: string): void {
  progress.textContent = ''
  error.textContent = message
  const way = code ? WAY_FORWARD[code] : undefined
  if (way) {
    const link = document.createElement('a')
    link.href = `/enroll?from=${encodeURIComponent(uid)}`
    link.textContent = messages[way]!
    error.append(' ', link)
  }
  error.hidden = false
  for (const b of document.querySelectorAll<HTMLButtonElement>('#login button')) b.disabled = false
}

async function post(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`/interaction/${uid}/${path}`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body),
  })
  const json = await res.json().catch(() => ({})) as Record<string, unknown>
  if (!res.ok) throw new LoginRefused(typeof json.error === 'string' ? json.error : '', typeof json.error_description === 'string' ? json.error_description : `HTTP ${res.status}`)
  return json
}

/** A single-use login challenge, with the WebAuthn request options over it. */
interface Challenge {
  challenge: string
  passkey: Parameters<typeof startAuthentication>[0]['optionsJSON']
}

// The page comes with a first challenge (one request less per login); later attempts ask for more.
let pageChallenge: Challenge | undefined = JSON.parse(document.querySelector('#login-challenge')!.textContent) as Challenge
async function nextChallenge(): Promise<{ challenge: Challenge; fromPage: boolean }> {
  const fromPage = pageChallenge
  pageChallenge = undefined
  return fromPage ? { challenge: fromPage, fromPage: true } : { challenge: await post('challenge') as unknown as Challenge, fromPage: false }
}

let certificates: ListedCertificate[] = []
const ways = document.querySelector<HTMLElement>('#ways')!
const fileSection = document.querySelector<HTMLElement>('#file-section')!
const passkeySection = document.querySelector<HTMLElement>('#passkey-section')!
const fileButton = document.querySelector<HTMLButtonElement>('#file-login-button')!
const importBackup = document.querySelector<HTMLDetailsElement>('#import-backup')!
const removedStatus = document.querySelector<HTMLElement>('#removed-status')!

/** Lists the certificate files of this browser with their badges; `selected` (an id) or the login_hint's serial is checked, else the first good one. */
async function showCertificates(selected?: string): Promise<void> {
  certificates = await withStates(await usableCertificates())
  showChoices(fieldset, certificates, selected ?? certificates.find((c) => c.serial!.toLowerCase() === loginHint)?.id, messages, async () => {
    await showCertificates()
    removedStatus.textContent = messages.removed!
  })
  adapt()
}

/**
 * The page follows what this browser holds: with a certificate file that can log in, the files
 * come first and the password has the focus; with none, no password is asked, the passkey comes
 * first and the backup import is open.
 */
function adapt(): void {
  if (form.hidden) return // passkeys only, at this institution
  const usable = orderWays({ ways, fileSection, passkeySection, form, fileButton, passkeyButton }, certificates)
  if (!usable) importBackup.open = true
  if (document.activeElement === passkeyButton || document.activeElement === document.body) (usable ? password : passkeyButton).focus()
}
await showCertificates()

// A backup file from another device: checked for shape here, kept encrypted in IndexedDB.
const backupInput = document.querySelector<HTMLInputElement>('#backup-file')!
const importStatus = document.querySelector<HTMLElement>('#import-status')!
listen(backupInput, 'change', async () => {
  const file = backupInput.files?.[0]
  if (!file) return
  importStatus.classList.remove('error')
  try {
    if (file.size > 64 * 1024) throw new CertificateFileError('the file is too large')
    const backup = parseBackup(await file.text())
    const summary = summarizeCertificate(certificatesIn(backup.certificatePem)[0]!)
    const existing = await loadBySerial(summary.serial)
    if (existing?.certificatePem && existing.encryptedKeyPem === backup.encryptedKeyPem) {
      await showCertificates(existing.id)
      importStatus.textContent = messages.import_exists!
    } else {
      // A new file, or a fresh copy of one kept here (replacing a damaged key).
      const id = existing?.id ?? b64url(await crypto.subtle.digest('SHA-256', new Uint8Array(summary.spki)))
      await saveCertificate({
        id, ...backup, serial: summary.serial, name: summary.name, notAfter: summary.notAfter.toISOString(), createdAt: new Date().toISOString(),
      })
      await showCertificates(id)
      importStatus.textContent = messages.imported!
    }
    password.focus()
  } catch (err) {
    importStatus.classList.add('error')
    importStatus.textContent = err instanceof CertificateFileError || err instanceof NotACertificateError ? `${messages.import_invalid} (${err.message})` : `${messages.failed} (${(err as Error).message})`
  } finally {
    backupInput.value = ''
  }
})

listen(form, 'submit', async (event) => {
  event.preventDefault()
  error.hidden = true
  const opened = await openChosenKey(form, certificates, password, messages, () => {
    for (const b of document.querySelectorAll<HTMLButtonElement>('#login button')) b.disabled = true
    progress.textContent = messages.unlocking!
  })
  if ('error' in opened) return fail(opened.error)
  const { key, chain, certificate } = opened
  try {
    progress.textContent = messages.signing!
    const prove = async (challenge: Challenge) => {
      const proof = await createLoginProof(key, chain, { challenge: challenge.challenge, aud: issuer, interaction: uid, iat: Math.floor(Date.now() / 1000) })
      return await post('login/file', { proof })
    }
    const first = await nextChallenge()
    let result
    try {
      result = await prove(first.challenge)
    } catch (err) {
      // The page's challenge may have expired while the page sat open: once more with a fresh one.
      if (!(first.fromPage && err instanceof LoginRefused && err.code === 'challenge_invalid')) throw err
      result = await prove((await nextChallenge()).challenge)
    }
    // The request asks for a signature too: the opened key waits for it, so the password is asked once.
    if (handoff) await keepUnlocked({ handoff, certificateId: certificate.id, key, chain, expiresAt: Date.now() + UNLOCKED_TTL_MS })
    location.assign(String(result.redirect))
  } catch (err) {
    fail(err instanceof LoginRefused && errors[err.code] ? err.message : `${messages.failed} (${(err as Error).message})`, (err as LoginRefused).code)
  }
})

listen(passkeyButton, 'click', async () => {
  error.hidden = true
  passkeyButton.disabled = true
  try {
    const { challenge } = await nextChallenge()
    const assertion = await startAuthentication({ optionsJSON: challenge.passkey })
    const { redirect } = await post('login/passkey', { assertion })
    location.assign(String(redirect))
  } catch (err) {
    fail(err instanceof LoginRefused && errors[err.code] ? err.message : `${messages.failed} (${(err as Error).message})`, (err as LoginRefused).code)
  }
})

export type { StoredCertificate }
