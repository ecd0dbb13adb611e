import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { CertificateAuthority, CertificateRecord } from '../../src/ca/authority.ts'
import type { PossessionProof } from '../../src/ca/possession.ts'
import type { HolderKind } from '../../src/db/schema/certificate.ts'

const exec = promisify(execFile)

export interface SubscriberKey {
  privateKey: KeyObject
  spki: Buffer
}

/** A subscriber key as a certificate file holder would make it (P-256 unless told). */
export function subscriberKey(type: 'p256' | 'p384' | 'rsa2048' | 'rsa1024' | 'ed25519' | 'p521' = 'p256'): SubscriberKey {
  const { privateKey, publicKey } =
    type === 'p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'p384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : type === 'p521' ? generateKeyPairSync('ec', { namedCurve: 'P-521' })
          : type === 'ed25519' ? generateKeyPairSync('ed25519')
            : generateKeyPairSync('rsa', { modulusLength: type === 'rsa1024' ? 1024 : 2048 })
  return { privateKey, spki: publicKey.export({ format: 'der', type: 'spki' }) }
}

/** Signs the challenge as the certificate file holder does (WebCrypto-style r||s for EC). */
export function signChallenge(key: SubscriberKey, challenge: Buffer): PossessionProof {
  const type = key.privateKey.asymmetricKeyType
  const signature = type === 'ed25519'
    ? sign(null, challenge, key.privateKey)
    : type === 'ec'
      ? sign(key.privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256', challenge, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', challenge, key.privateKey)
  return { type: 'signature', challenge, signature }
}

let counter = 0

/** Issues a certificate through the real issuance path: challenge, proof, transaction. */
export async function issueCertificate(authority: CertificateAuthority, options: {
  subscriberId?: string
  displayName?: string
  holder?: HolderKind
  key?: SubscriberKey
} = {}): Promise<{ certificate: CertificateRecord; key: SubscriberKey }> {
  const key = options.key ?? subscriberKey()
  const challenge = await authority.createChallenge()
  const certificate = await authority.issue({
    subscriberId: options.subscriberId ?? `sub-${++counter}-${Date.now()}`,
    displayName: options.displayName ?? '홍길동',
    holder: options.holder ?? 'file',
    spki: key.spki,
    proof: signChallenge(key, challenge),
  })
  return { certificate, key }
}

/** Runs openssl; resolves with stdout+stderr whatever the exit code (openssl reports in text). */
export async function openssl(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec('openssl', args, { timeout: 30_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, output: (e.stdout ?? '') + (e.stderr ?? '') }
  }
}
