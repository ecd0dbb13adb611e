// Choosing a certificate file kept in this browser and opening its key with the certificate
// password: the login page and the signing page do both the same way.
import { decryptPkcs8, fromPem, KeyFileError } from '../holders/keyfile/encrypted-pkcs8.ts'
import { summarizeCertificate } from '../der/certificate-summary.ts'
import { certificatesIn, keyMatchesCertificate } from '../holders/keyfile/certificate-file.ts'
import type { CryptoKey } from '../holders/keyfile/compact-jws.ts'
import { listCertificates, type StoredCertificate } from './key-store.ts'

/** The certificate files of this browser that have their certificate (the key alone cannot sign in). */
export async function usableCertificates(): Promise<StoredCertificate[]> {
  return (await listCertificates()).filter((c) => c.serial && c.certificatePem)
}

/** Radio buttons, one per certificate, in `fieldset`; `preferred` (an id) is checked, else the first. */
export function showChoices(fieldset: HTMLFieldSetElement, certificates: StoredCertificate[], preferred: string | undefined, expiresLabel: string): void {
  for (const old of fieldset.querySelectorAll('label.choice')) old.remove()
  fieldset.querySelector<HTMLElement>('#no-certificates')!.hidden = certificates.length > 0
  const checked = preferred ?? certificates[0]?.id
  for (const c of certificates) {
    const label = document.createElement('label')
    label.className = 'choice'
    const radio = document.createElement('input')
    radio.type = 'radio'
    radio.name = 'certificate'
    radio.value = c.id
    radio.checked = c.id === checked
    label.append(radio, ` ${c.name ? `${c.name} · ` : ''}${c.serial!.slice(0, 8)}… · ${expiresLabel} ${c.notAfter?.slice(0, 10) ?? ''}`)
    fieldset.append(label)
  }
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
  let key
  try {
    const pkcs8 = await decryptPkcs8(fromPem(chosen.encryptedKeyPem, 'ENCRYPTED PRIVATE KEY')!, password)
    key = await crypto.subtle.importKey('pkcs8', new Uint8Array(pkcs8), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])
  } catch (err) {
    throw err instanceof KeyFileError && err.message === 'wrong password' ? new KeyOpenError('wrong_password') : new KeyOpenError('failed', (err as Error).message)
  }
  const leaf = certificatesIn(chosen.certificatePem!)[0]!
  if (!keyMatchesCertificate(await crypto.subtle.exportKey('jwk', key), summarizeCertificate(leaf).spki)) throw new KeyOpenError('key_mismatch')
  return { key, chain: [...certificatesIn(chosen.certificatePem!), ...certificatesIn(chosen.chainPem ?? '')] }
}

/**
 * The key of the file chosen in `form`, opened with the password field's value, or the message to
 * show (in the page's language: loginjs.* texts) when there is none or it does not open.
 * `busy` runs once a file is chosen, before the slow part (PBKDF2).
 */
export async function openChosenKey(form: HTMLFormElement, certificates: StoredCertificate[], password: HTMLInputElement,
  messages: Record<string, string>, busy: () => void): Promise<{ key: CryptoKey; chain: Uint8Array[] } | { error: string }> {
  const chosen = chosenCertificate(form, certificates)
  if (!chosen) return { error: messages.choose_first! }
  busy()
  try {
    return await openKey(chosen, password.value)
  } catch (err) {
    password.focus()
    const key = err instanceof KeyOpenError ? err.messageKey : 'failed'
    return { error: key === 'failed' ? `${messages.failed} (${(err as Error).message})` : messages[key]! }
  }
}
