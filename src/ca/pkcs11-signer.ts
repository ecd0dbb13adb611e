import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import type { CaSigner } from './signer.ts'

/** Where the issuing CA's key is: a PKCS#11 token (an HSM, or SoftHSM2 for tests) and the key's label on it. */
export interface Pkcs11Settings {
  /** The PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so or the HSM vendor's. */
  library: string
  /** The token's label (CKA token info). */
  tokenLabel: string
  /** The user PIN of the token. */
  pin: string
  /** The private key's CKA_LABEL. */
  keyLabel: string
}

export class Pkcs11Error extends Error {
  override name = 'Pkcs11Error'
}

/** DER of the P-256 curve's OID, as CKA_EC_PARAMS holds it. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex')
/** The SPKI prefix of a P-256 key; the 65-byte uncompressed point follows. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')

/**
 * A CA signer whose key stays on a PKCS#11 token: PostCert sends the SHA-256 of what is signed and
 * gets r | s back (CKM_ECDSA); the private key is never read, and a token key created as
 * non-extractable and sensitive cannot be. One session, logged in, for the process; signing is a
 * blocking call of a few milliseconds on SoftHSM2 (an HSM's own latency otherwise).
 *
 * Throws Pkcs11Error when the module, the token, the PIN or the key is not as configured.
 */
export async function pkcs11Signer(settings: Pkcs11Settings): Promise<CaSigner & { publicKey: KeyObject; close(): void }> {
  // Loaded only when a token is configured: the module is an optional (native) dependency.
  // A CommonJS module: its constants are on the default export only.
  const pkcs11js = (await import('pkcs11js').catch((err: unknown) => {
    throw new Pkcs11Error(`the PKCS#11 binding (pkcs11js, an optional dependency) is not installed or not built: ${(err as Error).message}`)
  })).default
  const p11 = new pkcs11js.PKCS11()
  try {
    p11.load(settings.library)
  } catch (err) {
    throw new Pkcs11Error(`cannot load the PKCS#11 module ${settings.library}: ${(err as Error).message}`)
  }
  p11.C_Initialize()
  let session: Buffer | undefined
  try {
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === settings.tokenLabel)
    if (!slot) throw new Pkcs11Error(`no token labelled ${settings.tokenLabel} in ${settings.library}`)
    session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION)
    try {
      p11.C_Login(session, pkcs11js.CKU_USER, settings.pin)
    } catch (err) {
      throw new Pkcs11Error(`the token ${settings.tokenLabel} refused the PIN: ${(err as Error).message}`)
    }
    const find = (objectClass: number): Buffer | undefined => {
      p11.C_FindObjectsInit(session!, [{ type: pkcs11js.CKA_CLASS, value: objectClass }, { type: pkcs11js.CKA_LABEL, value: settings.keyLabel }])
      const found = p11.C_FindObjects(session!)
      p11.C_FindObjectsFinal(session!)
      return found ?? undefined
    }
    const privateKey = find(pkcs11js.CKO_PRIVATE_KEY)
    const publicHandle = find(pkcs11js.CKO_PUBLIC_KEY)
    if (!privateKey || !publicHandle) throw new Pkcs11Error(`no key pair labelled ${settings.keyLabel} on the token ${settings.tokenLabel}`)
    const [params, point] = p11.C_GetAttributeValue(session, publicHandle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }])
    if (!Buffer.from(params!.value).equals(P256_PARAMS)) throw new Pkcs11Error(`the key ${settings.keyLabel} is not an ECDSA P-256 key`)
    const publicKey = createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, ecPoint(point!.value)]), format: 'der', type: 'spki' })
    const opened = session
    let closed = false
    return {
      keeper: 'pkcs11',
      publicKey,
      sign: async (data) => {
        p11.C_SignInit(opened, { mechanism: pkcs11js.CKM_ECDSA }, privateKey)
        const raw = p11.C_Sign(opened, createHash('sha256').update(data).digest(), Buffer.alloc(64))
        return derSignature(raw)
      },
      close: () => {
        if (closed) return
        closed = true
        try {
          p11.C_Logout(opened)
          p11.C_CloseSession(opened)
        } finally {
          p11.C_Finalize()
        }
      },
    }
  } catch (err) {
    if (session) p11.C_CloseSession(session)
    p11.C_Finalize()
    throw err
  }
}

/** CKA_EC_POINT is the point wrapped in an OCTET STRING (04 41 04 …); some tokens give it bare. */
function ecPoint(value: Buffer): Buffer {
  if (value.length === 67 && value[0] === 0x04 && value[1] === 0x41) return value.subarray(2)
  if (value.length === 65 && value[0] === 0x04) return value
  throw new Pkcs11Error('unexpected CKA_EC_POINT encoding')
}

/** r | s (32 bytes each) -> SEQUENCE { INTEGER r, INTEGER s }. */
function derSignature(raw: Buffer): Buffer {
  if (raw.length !== 64) throw new Pkcs11Error(`unexpected ECDSA signature length ${raw.length}`)
  const integer = (bytes: Buffer) => {
    let v = bytes
    while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1)
    if (v[0]! >= 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
