// The certificate files kept in this browser (IndexedDB): the encrypted key with its certificate.
// The key is only ever stored encrypted under the certificate password.

export interface StoredCertificate {
  /** SHA-256 of the public key (base64url); the key is saved before it is certified. */
  id: string
  encryptedKeyPem: string
  serial?: string
  /** The subscriber's display name in the certificate, to recognise it in a list. */
  name?: string
  certificatePem?: string
  chainPem?: string
  notAfter?: string
  createdAt: string
}

const DB = 'postcert'
const STORE = 'certificates'
/** Keys a login opened for the signature that follows it in the same visit (see keepUnlocked). */
const UNLOCKED = 'unlocked'

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 2)
    request.onupgradeneeded = (event) => {
      if (event.oldVersion < 1) request.result.createObjectStore(STORE, { keyPath: 'id' }).createIndex('serial', 'serial', { unique: false })
      if (event.oldVersion < 2) request.result.createObjectStore(UNLOCKED, { keyPath: 'handoff' })
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('the certificate store could not be opened'))
  })
}

async function run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>, storeName = STORE): Promise<T> {
  const db = await open()
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(storeName, mode)
      const request = fn(tx.objectStore(storeName))
      tx.oncomplete = () => resolve(request.result)
      tx.onerror = () => reject(tx.error ?? new Error('the certificate store failed'))
      tx.onabort = () => reject(tx.error ?? new Error('the certificate store gave up'))
    })
  } finally {
    db.close()
  }
}

export const saveCertificate = (record: StoredCertificate) => run('readwrite', (s) => s.put(record))
export const loadBySerial = (serial: string) => run('readonly', (s) => s.index('serial').get(serial) as IDBRequest<StoredCertificate | undefined>)
export const listCertificates = () => run('readonly', (s) => s.getAll() as IDBRequest<StoredCertificate[]>)
/**
 * Forgets a certificate file in this browser (its encrypted key too, and any key a login opened
 * from it for a signature): a backup is the way back.
 */
export async function removeCertificate(id: string): Promise<void> {
  await run('readwrite', (s) => s.delete(id))
  const opened = await run('readonly', (s) => s.getAll() as IDBRequest<UnlockedKey[]>, UNLOCKED)
  for (const key of opened.filter((k) => k.certificateId === id)) await forgetUnlocked(key.handoff)
}

/** How long a key opened at login stays for the signature that follows. */
export const UNLOCKED_TTL_MS = 5 * 60_000

/**
 * A certificate file's key opened by the password at a login whose request also asks for a
 * signature, kept for that signature only: `handoff` names the request (the server writes the same
 * value on both pages), the key cannot be exported (a non-extractable CryptoKey), and it is used
 * once, within UNLOCKED_TTL_MS, after the subscriber read the document and pressed the button.
 */
export interface UnlockedKey {
  handoff: string
  certificateId: string
  key: CryptoKey
  chain: Uint8Array[]
  expiresAt: number
}

export const keepUnlocked = (entry: UnlockedKey) => run('readwrite', (s) => s.put(entry), UNLOCKED)
export const forgetUnlocked = (handoff: string) => run('readwrite', (s) => s.delete(handoff), UNLOCKED)

/** The key kept for `handoff`, while it lasts; every expired one is forgotten on the way. */
export async function unlockedFor(handoff: string, now = Date.now()): Promise<UnlockedKey | undefined> {
  const all = await run('readonly', (s) => s.getAll() as IDBRequest<UnlockedKey[]>, UNLOCKED)
  for (const old of all.filter((k) => k.expiresAt <= now)) await forgetUnlocked(old.handoff)
  return all.find((k) => k.handoff === handoff && k.expiresAt > now)
}
