// @peculiar/x509 needs reflect-metadata before it loads, and WebCrypto from Node.
import 'reflect-metadata'
import { createHash, randomBytes, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as never)

export { x509 }

/** Serial numbers as stored and shown: lowercase hex, no leading zeros. */
export function canonicalSerial(hex: string): string {
  const clean = hex.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '')
  return clean || '0'
}

/**
 * A random positive serial of 16 bytes: 127 random bits with the sign bit clear, and a first
 * byte that is never zero so the DER encoding is always exactly 16 bytes.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x7f) || 0x01
  return bytes.toString('hex')
}

export function sha256(data: Uint8Array | ArrayBuffer): Buffer {
  return createHash('sha256').update(data instanceof ArrayBuffer ? new Uint8Array(data) : data).digest()
}

export function toPem(der: Uint8Array | ArrayBuffer, label: 'CERTIFICATE' | 'X509 CRL'): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64')
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`
}
