// Server only (outside keyfile/, which the browser shares): a certificate file's compact JWS
// (login proof, signature) verified by jose, never by hand. The browser writes them with
// keyfile/compact-jws.ts; what comes back is checked as RFC 7515 says.
import type { KeyObject } from 'node:crypto'
import * as jose from 'jose'

/**
 * Why `jws` does not verify as ES256 with `key`, or undefined when it does. jose refuses any
 * other alg, a `crit` header it does not understand (RFC 7515 4.1.11), an unencoded payload
 * (`b64: false`) and a signature that does not verify; `payload` must be the bytes it signs.
 */
export async function es256Failure(jws: string, key: KeyObject, payload?: Uint8Array): Promise<string | undefined> {
  let verified: jose.CompactVerifyResult
  try {
    verified = await jose.compactVerify(jws, key, { algorithms: ['ES256'] })
  } catch (err) {
    if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'the signature does not verify with the certificate'
    if (err instanceof jose.errors.JOSEAlgNotAllowed) return 'alg must be ES256'
    return `the JWS is not acceptable: ${(err as Error).message}`
  }
  if (payload && !Buffer.from(verified.payload).equals(Buffer.from(payload))) return 'the JWS signs other bytes than the payload'
  return undefined
}
