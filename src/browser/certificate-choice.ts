// Choosing a certificate file kept in this browser and opening its key with the certificate
// password: the login page and the signing page do both the same way.
import { decryptPkcs8, fromPem, KeyFileError } from '../holders/keyfile/encrypted-pkcs8.ts'
import { summarizeCertificate } from '../der/certificate-summary.ts'
import { certificatesIn, keyMatchesCertificate } from '../holders/keyfile/certificate-file.ts'
import type { CryptoKey } from '../holders/keyfile/compact-jws.ts'
import { listCertificates, removeCertificate, type StoredCertificate } from './key-store.ts'
import { listen } from './listen.ts'

/** The certificate files of this browser that have their certificate (the key alone cannot sign in). */
export async function usableCertificates(): Promise<StoredCertificate[]> {
  return (await listCertificates()).filter((c) => c.serial && c.certificatePem)
}

/** A certificate file of this browser as the CA has it now; only `good` ones can be chosen. */
export interface ListedCertificate extends StoredCertificate {
  state: 'good' | 'revoked' | 'suspended' | 'expired' | 'unknown'
  /** Whole days until it expires, when it is good. */
  daysLeft?: number
}

const DAY_MS = 86_400_000
/** A certificate this close to its expiry gets a badge. */
const EXPIRING_DAYS = 30

/**
 * Asks the CA (GET /pki/certificates/{serial}, public, as OCSP) what each file's certificate is
 * now. When the CA cannot be asked, a file counts as good: the login itself will tell.
 */
export async function withStates(certificates: StoredCertificate[], now = Date.now()): Promise<ListedCertificate[]> {
  return await Promise.all(certificates.map(async (c): Promise<ListedCertificate> => {
    const notAfter = c.notAfter ? Date.parse(c.notAfter) : Number.NaN
    if (notAfter <= now) return { ...c, state: 'expired' }
    const daysLeft = Number.isNaN(notAfter) ? undefined : Math.ceil((notAfter - now) / DAY_MS)
    try {
      const res = await fetch(`/pki/certificates/${encodeURIComponent(c.serial!)}`, { credentials: 'omit' })
      if (res.status === 404) return { ...c, state: 'unknown' }
      const { status } = await res.json() as { status?: string }
      if (status === 'revoked' || status === 'suspended') return { ...c, state: status }
    } catch {
      // Offline or refused: the badge is left out, not guessed.
    }
    return { ...c, state: 'good', ...(daysLeft === undefined ? {} : { daysLeft }) }
  }))
}

const fill = (text: string | undefined, params: Record<string, string | number>) => (text ?? '').replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(params[name] ?? ''))

/**
 * Radio buttons, one per certificate, in `fieldset`, each with its badge (revoked, suspended,
 * expired, not issued here, expiring soon: only good ones can be chosen) and a button that
 * removes the file from this browser after a confirmation. `preferred` (an id) is checked when it
 * can be chosen, else the first that can. `onRemoved` runs after a removal (the page lists again).
 */
export function showChoices(fieldset: HTMLFieldSetElement, certificates: ListedCertificate[], preferred: string | undefined,
  messages: Record<string, string>, onRemoved: (removed: StoredCertificate) => Promise<void>): void {
  for (const old of fieldset.querySelectorAll('.choice-row')) old.remove()
  fieldset.querySelector<HTMLElement>('#no-certificates')!.hidden = certificates.length > 0
  const usable = certificates.filter((c) => c.state === 'good')
  const checked = usable.some((c) => c.id === preferred) ? preferred : usable[0]?.id
  for (const c of certificates) {
    const row = document.createElement('div')
    row.className = 'choice-row'
    const label = document.createElement('label')
    label.className = 'choice'
    const radio = document.createElement('input')
    radio.type = 'radio'
    radio.name = 'certificate'
    radio.value = c.id
    radio.checked = c.id === checked
    radio.disabled = c.state !== 'good'
    const title = `${c.name ? `${c.name} · ` : ''}${c.serial!.slice(0, 8)}…`
    label.append(radio, ` ${title} · ${messages.expires} ${c.notAfter?.slice(0, 10) ?? ''}`)
    const badge = c.state !== 'good' ? messages[`badge_${c.state}`] : c.daysLeft !== undefined && c.daysLeft <= EXPIRING_DAYS ? fill(messages.badge_expiring, { days: c.daysLeft }) : undefined
    if (badge) {
      const span = document.createElement('span')
      span.className = `badge badge-${c.state === 'good' ? 'expiring' : c.state}`
      span.textContent = badge
      label.append(' ', span)
    }
    row.append(label, removeControl(c, title, messages, onRemoved))
    fieldset.append(row)
  }
}

/** "이 브라우저에서 지우기", then a confirmation (what it means, 지우기 / 취소) in its place. */
export function removeControl(c: StoredCertificate, title: string, messages: Record<string, string>, onRemoved: (removed: StoredCertificate) => Promise<void>): HTMLElement {
  const box = document.createElement('div')
  box.className = 'remove'
  const ask = button(messages.remove!, 'link')
  ask.setAttribute('aria-label', fill(messages.remove_label, { certificate: title }))
  const confirm = document.createElement('div')
  confirm.setAttribute('role', 'group')
  confirm.setAttribute('aria-label', fill(messages.remove_label, { certificate: title }))
  confirm.hidden = true
  const why = document.createElement('p')
  why.textContent = messages.remove_confirm!
  const yes = button(messages.remove_yes!, 'secondary remove-yes')
  const no = button(messages.remove_no!, 'link')
  confirm.append(why, yes, no)
  box.append(ask, confirm)
  ask.addEventListener('click', () => { ask.hidden = true; confirm.hidden = false; no.focus() })
  no.addEventListener('click', () => { confirm.hidden = true; ask.hidden = false; ask.focus() })
  listen(yes, 'click', async () => {
    await removeCertificate(c.id)
    await onRemoved(c)
  })
  return box
}

function button(text: string, className: string): HTMLButtonElement {
  const b = document.createElement('button')
  b.type = 'button'
  b.className = className
  b.textContent = text
  return b
}

/**
 * A page's two ways (passkey, certificate file) in the order what this browser holds suggests: with
 * a file that can be used, the files come first with the primary button; with none, the file
 * form's fields (`.needs-file`) are hidden and the passkey comes first. Returns whether a file can
 * be used.
 */
export function orderWays(page: { ways: HTMLElement; fileSection: HTMLElement; passkeySection: HTMLElement; form: HTMLFormElement; fileButton: HTMLButtonElement; passkeyButton: HTMLButtonElement },
  certificates: ListedCertificate[]): boolean {
  const usable = certificates.some((c) => c.state === 'good')
  if (page.form.hidden) return usable // passkeys only, at this institution
  for (const element of page.form.querySelectorAll<HTMLElement>('.needs-file')) element.hidden = !usable
  const lead = usable ? page.fileSection : page.passkeySection
  // Moving the element that has the focus (the passkey button, autofocus) would drop it.
  if (page.ways.firstElementChild !== lead) page.ways.prepend(lead)
  page.fileButton.classList.toggle('primary', usable)
  page.fileButton.classList.toggle('secondary', !usable)
  page.passkeyButton.className = usable ? 'secondary' : 'primary'
  return usable
}

export function chosenCertificate(form: HTMLFormElement, certificates: StoredCertificate[]): StoredCertificate | undefined {
  return certificates.find((c) => c.id === form.querySelector<HTMLInputElement>('input[name=certificate]:checked')?.value)
}

/** Why a key could not be opened, as a message key of the page (loginjs.*). */
export class KeyOpenError extends Error {
  readonly messageKey: 'wrong_password' | 'key_mismatch' | 'failed'

  constructor(messageKey: KeyOpenError['messageKey'], detail?: string) {
    super(detail ?? messageKey)
    this.messageKey = messageKey
  }
}

/**
 * The file's key, opened here with the password (a wrong one fails here, with no request to
 * PostCert), and the chain to send with what it signs. A key that is not the certificate's would
 * only fail at PostCert and count towards the lock, so it is refused here.
 */
export async function openKey(chosen: StoredCertificate, password: string): Promise<{ key: CryptoKey; chain: Uint8Array[] }> {
  let pkcs8: Uint8Array<ArrayBuffer>
  let key
  try {
    pkcs8 = new Uint8Array(await decryptPkcs8(fromPem(chosen.encryptedKeyPem, 'ENCRYPTED PRIVATE KEY')!, password))
    key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])
  } catch (err) {
    throw err instanceof KeyFileError && err.message === 'wrong password' ? new KeyOpenError('wrong_password') : new KeyOpenError('failed', (err as Error).message)
  }
  const leaf = certificatesIn(chosen.certificatePem!)[0]!
  if (!keyMatchesCertificate(await crypto.subtle.exportKey('jwk', key), summarizeCertificate(leaf).spki)) throw new KeyOpenError('key_mismatch')
  // What signs can sign only: a key that cannot be exported (the one above was, for the check).
  const signer = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  pkcs8.fill(0)
  return { key: signer, chain: [...certificatesIn(chosen.certificatePem!), ...certificatesIn(chosen.chainPem ?? '')] }
}

/**
 * The key of the file chosen in `form`, opened with the password field's value, or the message to
 * show (in the page's language: loginjs.* texts) when there is none or it does not open.
 * `busy` runs once a file is chosen, before the slow part (PBKDF2).
 */
export async function openChosenKey(form: HTMLFormElement, certificates: StoredCertificate[], password: HTMLInputElement,
  messages: Record<string, string>, busy: () => void): Promise<{ key: CryptoKey; chain: Uint8Array[]; certificate: StoredCertificate } | { error: string }> {
  const chosen = chosenCertificate(form, certificates)
  if (!chosen) return { error: messages.choose_first! }
  busy()
  try {
    return { ...await openKey(chosen, password.value), certificate: chosen }
  } catch (err) {
    password.focus()
    const key = err instanceof KeyOpenError ? err.messageKey : 'failed'
    return { error: key === 'failed' ? `${messages.failed} (${(err as Error).message})` : messages[key]! }
  }
}
