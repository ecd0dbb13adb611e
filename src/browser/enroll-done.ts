// A certificate file's page (the enrollment's done page, the portal's certificate page): offer
// the backup (encrypted key + certificate + chain), and removing the file from this browser.
import { backupText } from '../holders/keyfile/certificate-file.ts'
import { removeControl } from './certificate-choice.ts'
import { loadBySerial } from './key-store.ts'

const button = document.querySelector<HTMLButtonElement>('#backup')!
const serial = button.dataset.serial!
const missing = document.querySelector<HTMLElement>('#backup-missing')!

const record = await loadBySerial(serial)
if (!record?.certificatePem) {
  button.hidden = true
  missing.hidden = false
} else {
  button.hidden = false
  button.addEventListener('click', () => {
    const text = backupText({ encryptedKeyPem: record.encryptedKeyPem, certificatePem: record.certificatePem!, chainPem: record.chainPem ?? '' })
    const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }))
    const link = document.createElement('a')
    link.href = url
    link.download = `postcert-${serial}.pem`
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  })
}

// On a shared PC: the file can be removed from this browser once the backup is saved.
const copy = document.querySelector<HTMLElement>('#browser-copy')
const copyStatus = document.querySelector<HTMLElement>('#browser-copy-status')
if (record && copy && copyStatus) {
  const messages = JSON.parse(document.querySelector('#browser-copy-messages')?.textContent ?? '{}') as Record<string, string>
  const title = `${record.name ? `${record.name} · ` : ''}${serial.slice(0, 8)}…`
  copy.append(removeControl(record, title, messages, async () => {
    copy.hidden = true
    button.hidden = true
    copyStatus.textContent = messages.removed!
  }))
  copy.hidden = false
}
