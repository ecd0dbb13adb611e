import { sign, type KeyObject, type webcrypto } from 'node:crypto'

type CryptoKey = webcrypto.CryptoKey
type Crypto = webcrypto.Crypto
type BufferSource = ArrayBufferView | ArrayBuffer

/**
 * What signs for the issuing CA: certificates, CRLs and OCSP responses, ECDSA P-256 with SHA-256.
 * The key stays with its keeper: sealed in the database and held by this process (sealedSigner),
 * or a PKCS#11 token that signs without letting it out (pkcs11-signer.ts). The CA's code sees
 * only this.
 */
export interface CaSigner {
  /** Where the key is kept (`postcert ca show`). */
  readonly keeper: 'sealed' | 'pkcs11'
  /** The DER ECDSA-Sig-Value over SHA-256(data). */
  sign(data: Uint8Array): Promise<Buffer>
}

/**
 * The key opened from its sealed copy in the database (hierarchy.ts). The KeyObject goes to
 * node:crypto alone (its signature is DER by default): wrapped in an options object, each call
 * would first throw and catch two type checks inside Node, a cost per OCSP answer.
 */
export function sealedSigner(key: KeyObject): CaSigner {
  return { keeper: 'sealed', sign: async (data) => sign('sha256', data, key) }
}

/** P-256: r and s are 32 bytes each in WebCrypto's raw form. */
const P256_SCALAR_BYTES = 32

/**
 * @peculiar/x509 signs certificates through WebCrypto: a signing key and a `crypto` whose
 * subtle.sign goes to the signer (and answers in WebCrypto's raw r | s form, which x509 turns back
 * into DER).
 */
export function webCryptoSigner(signer: CaSigner): { signingKey: CryptoKey; crypto: Crypto } {
  const signingKey = { algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, type: 'private', extractable: false, usages: ['sign'] } as unknown as CryptoKey
  const subtle = { sign: async (_algorithm: unknown, _key: CryptoKey, data: BufferSource) => rawSignature(await signer.sign(toBytes(data))) }
  return { signingKey, crypto: { subtle } as unknown as Crypto }
}

function toBytes(data: BufferSource): Uint8Array {
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)
}

/** SEQUENCE { INTEGER r, INTEGER s } -> r | s, each left-padded to the curve's size. */
export function rawSignature(der: Buffer): ArrayBuffer {
  let at = 2
  if (der[0] !== 0x30) throw new Error('not an ECDSA signature')
  if (der[1]! & 0x80) at += der[1]! & 0x7f
  const integers: Buffer[] = []
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) throw new Error('not an ECDSA signature')
    const length = der[at + 1]!
    let value = der.subarray(at + 2, at + 2 + length)
    while (value.length > P256_SCALAR_BYTES && value[0] === 0) value = value.subarray(1)
    if (value.length > P256_SCALAR_BYTES) throw new Error('not a P-256 signature')
    integers.push(Buffer.concat([Buffer.alloc(P256_SCALAR_BYTES - value.length), value]))
    at += 2 + length
  }
  const raw = Buffer.concat(integers)
  return raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)
}
