// The done page of a certificate file: offer the backup (encrypted key + certificate + chain).
import { backupText } from '../holders/keyfile/certificate-file.ts'
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
