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

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: 'id' })
      store.createIndex('serial', 'serial', { unique: false })
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('the certificate store could not be opened'))
  })
}

async function run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open()
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      const request = fn(tx.objectStore(STORE))
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
/** Forgets a certificate file in this browser (its encrypted key too): a backup is the way back. */
export const removeCertificate = (id: string) => run('readwrite', (s) => s.delete(id))
