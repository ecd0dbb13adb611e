// Password-protected private keys as PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018):
// PBKDF2-HMAC-SHA256 and AES-256-CBC, the format `openssl pkey -passin` opens. WebCrypto only,
// so the browser (enrollment, login) and Node (tests, tools) share it.
import { DerError, equal, hex, INTEGER, integer, NULL, OCTET_STRING, OID, read, readInteger, SEQUENCE, tlv, type Node } from '../../der/der.ts'

/** OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256; makes each password guess cost ~0.5 s in a browser. */
/** CryptoKey, named so that this file type-checks with Node's types and with the DOM's. */
type CryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>

export const PBKDF2_ITERATIONS = 600_000
/** Refuse files that would make us spin for minutes. */
const MAX_ITERATIONS = 10_000_000

const OID_PBES2 = hex('2a864886f70d01050d') // 1.2.840.113549.1.5.13
const OID_PBKDF2 = hex('2a864886f70d01050c') // 1.2.840.113549.1.5.12
const OID_HMAC_SHA256 = hex('2a864886f70d0209') // 1.2.840.113549.2.9
const OID_AES_256_CBC = hex('60864801650304012a') // 2.16.840.1.101.3.4.1.42

export class KeyFileError extends Error {
  override name = 'KeyFileError'
}

const subtle = () => globalThis.crypto.subtle

async function deriveKey(password: string, salt: Uint8Array, iterations: number, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const base = await subtle().importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveKey'])
  return await subtle().deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations }, base, { name: 'AES-CBC', length: 256 }, false, [usage])
}

/** Encrypts a PKCS#8 private key (DER) under `password`; returns EncryptedPrivateKeyInfo DER. */
export async function encryptPkcs8(pkcs8: Uint8Array, password: string, iterations = PBKDF2_ITERATIONS): Promise<Uint8Array> {
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(16))
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(16))
  const key = await deriveKey(password, salt, iterations, 'encrypt')
  const encrypted = new Uint8Array(await subtle().encrypt({ name: 'AES-CBC', iv }, key, new Uint8Array(pkcs8)))
  const kdf = tlv(SEQUENCE, tlv(OID, OID_PBKDF2), tlv(SEQUENCE,
    tlv(OCTET_STRING, salt), integer(iterations), integer(32), tlv(SEQUENCE, tlv(OID, OID_HMAC_SHA256), tlv(NULL))))
  const scheme = tlv(SEQUENCE, tlv(OID, OID_AES_256_CBC), tlv(OCTET_STRING, iv))
  const algorithm = tlv(SEQUENCE, tlv(OID, OID_PBES2), tlv(SEQUENCE, kdf, scheme))
  return tlv(SEQUENCE, algorithm, tlv(OCTET_STRING, encrypted))
}

/**
 * Decrypts EncryptedPrivateKeyInfo DER. Throws KeyFileError('wrong password') when the password
 * does not open it, and KeyFileError with the reason for anything that is not a key file we read.
 */
export async function decryptPkcs8(der: Uint8Array, password: string): Promise<Uint8Array> {
  let salt: Uint8Array, iterations: number, iv: Uint8Array, encrypted: Uint8Array
  try {
    const [algorithm, data] = top(der)
    const [pbes2, params] = algorithm.children() as [Node, Node]
    if (!equal(pbes2.value, OID_PBES2)) throw new KeyFileError('not PBES2-encrypted')
    const [kdf, scheme] = params.children() as [Node, Node]
    const [kdfOid, kdfParams] = kdf.children() as [Node, Node]
    if (!equal(kdfOid.value, OID_PBKDF2)) throw new KeyFileError('the key derivation is not PBKDF2')
    // PBKDF2-params: salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf.
    const [saltNode, iterationNode, ...rest] = kdfParams.children()
    if (saltNode?.tag !== OCTET_STRING || saltNode.value.length < 8 || saltNode.value.length > 64) throw new KeyFileError('the PBKDF2 salt must be an OCTET STRING of 8 to 64 bytes')
    if (iterationNode?.tag !== INTEGER) throw new KeyFileError('the PBKDF2 iteration count must be an INTEGER')
    salt = saltNode.value
    iterations = readInteger(iterationNode)
    const keyLength = rest[0]?.tag === INTEGER ? rest.shift() : undefined
    if (keyLength && readInteger(keyLength) !== 32) throw new KeyFileError('the PBKDF2 key length must be 32 bytes (AES-256)')
    const prf = rest[0]
    if (rest.length !== 1 || prf?.tag !== SEQUENCE || !equal(prf.children()[0]!.value, OID_HMAC_SHA256)) throw new KeyFileError('PBKDF2 must use HMAC-SHA256')
    const [cipher, ivNode] = scheme.children() as [Node, Node]
    if (!equal(cipher.value, OID_AES_256_CBC)) throw new KeyFileError('the cipher is not AES-256-CBC')
    if (ivNode?.tag !== OCTET_STRING || ivNode.value.length !== 16) throw new KeyFileError('the AES-256-CBC IV must be an OCTET STRING of 16 bytes')
    iv = ivNode.value
    encrypted = data.value
  } catch (err) {
    if (err instanceof KeyFileError) throw err
    throw new KeyFileError('not an encrypted private key (PKCS#8)')
  }
  if (iterations < 1 || iterations > MAX_ITERATIONS) throw new KeyFileError('unreasonable PBKDF2 iteration count')
  const key = await deriveKey(password, salt, iterations, 'decrypt')
  let plain: Uint8Array
  try {
    plain = new Uint8Array(await subtle().decrypt({ name: 'AES-CBC', iv: new Uint8Array(iv) }, key, new Uint8Array(encrypted)))
  } catch {
    // Bad padding: with CBC this is what a wrong password looks like.
    throw new KeyFileError('wrong password')
  }
  // A wrong password still gives valid padding about once in 256 tries: what comes out must be a
  // PrivateKeyInfo (one SEQUENCE, starting with its version INTEGER), or the password was wrong.
  if (!isPrivateKeyInfo(plain)) throw new KeyFileError('wrong password')
  return plain
}

function isPrivateKeyInfo(der: Uint8Array): boolean {
  try {
    const { node, end } = read(der)
    const [version, algorithm, privateKey] = node.children()
    return node.tag === SEQUENCE && end === der.length && version?.tag === INTEGER && algorithm?.tag === SEQUENCE && privateKey?.tag === OCTET_STRING
  } catch {
    return false
  }
}

function top(der: Uint8Array): [Node, Node] {
  const { node, end } = read(der)
  if (node.tag !== SEQUENCE || end !== der.length) throw new DerError('not a SEQUENCE')
  const children = node.children()
  if (children.length !== 2 || children[1]!.tag !== OCTET_STRING) throw new DerError('not EncryptedPrivateKeyInfo')
  return [children[0]!, children[1]!]
}

export function toPem(der: Uint8Array, label: string): string {
  let binary = ''
  for (const b of der) binary += String.fromCharCode(b)
  return `-----BEGIN ${label}-----\n${btoa(binary).match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`
}

/** The DER inside the first PEM block with this label, or undefined. */
export function fromPem(text: string, label: string): Uint8Array | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text)
  if (!match) return undefined
  const binary = atob(match[1]!.replace(/\s/g, ''))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}
