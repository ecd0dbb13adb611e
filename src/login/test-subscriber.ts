import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, webcrypto } from 'node:crypto'
import type { CertificateAuthority } from '../ca/authority.ts'
import type { CaHierarchy } from '../ca/hierarchy.ts'
import type { Database } from '../db/database.ts'
import type { CryptoKey } from '../holders/keyfile/compact-jws.ts'
import { createLoginProof } from '../holders/keyfile/login-proof.ts'
import type { SecretStore } from '../keys/secret-store.ts'
import type { Clock } from '../util/clock.ts'
import type { SubscriberStore } from '../subscribers/subscriber-store.ts'

/** The sandbox subscriber of test mode (POSTCERT_TEST_MODE): one fixed id, never a real person. */
export const TEST_SUBSCRIBER_ID = 'ps_test_mode'
const KEY_SECRET = 'test-mode-subscriber-key'

export interface TestSubscriberDeps { db: Database; subscribers: SubscriberStore; secrets: SecretStore; authority: CertificateAuthority; ca: CaHierarchy; clock: Clock; issuer: string }

/**
 * Test mode's subscriber, for the OpenID conformance suite: its scripted browser can click a
 * button, not choose a certificate file and type its password. PostCert holds this one
 * subscriber's certificate-file key (sealed like every server secret) and, on the click, makes
 * the same login proof the page's script would make; the proof then takes the normal path
 * (challenge, signature, certificate verdict, lock). The config refuses test mode in production.
 */
export class TestSubscriber {
  readonly #deps: TestSubscriberDeps
  #holder: { key: CryptoKey; chain: Uint8Array[] } | undefined

  constructor(deps: TestSubscriberDeps) {
    this.#deps = deps
  }

  /** Creates the subscriber, its key and a valid certificate when missing (any instance, any restart). */
  async ensure(): Promise<void> {
    const { db, clock } = this.#deps
    const pkcs8 = Buffer.from(await this.#deps.secrets.getOrCreate(KEY_SECRET, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64')), 'base64')
    const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
    const now = clock.now()
    await this.#deps.subscribers.ensure(TEST_SUBSCRIBER_ID, {
      ci: 'test-mode-ci', name: '테스트 가입자', birthdate: '1990-01-01', phone_e164: '+821000000000', document_type: 'resident_card', document_last_digits: '0000',
    })
    // A certificate of this key that is valid for at least a day more; otherwise a new one.
    const current = await db.selectFrom('certificate').select('der')
      .where('subscriber_id', '=', TEST_SUBSCRIBER_ID).where('status', '=', 'good')
      .where('spki_sha256', '=', createHash('sha256').update(spki).digest('base64url'))
      .where('not_after', '>', new Date(now.getTime() + 86_400_000))
      .orderBy('not_after', 'desc').executeTakeFirst() // certificate_subscriber_idx
    let der = current?.der
    if (!der) {
      const challenge = await this.#deps.authority.createChallenge()
      const signature = sign('sha256', challenge, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      der = (await this.#deps.authority.issue({
        subscriberId: TEST_SUBSCRIBER_ID, displayName: '테스트 가입자', holder: 'file', spki, proof: { type: 'signature', challenge, signature },
      })).der
    }
    const issuing = await this.#deps.ca.issuing()
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
    this.#holder = { key, chain: [new Uint8Array(der), new Uint8Array(issuing.certificate.rawData)] }
  }

  /** The login proof the page's script would make for this interaction's challenge. */
  async proof(interaction: string, challenge: string): Promise<string> {
    if (!this.#holder) throw new Error('test subscriber not ensured')
    return await createLoginProof(this.#holder.key, this.#holder.chain, {
      challenge, aud: this.#deps.issuer, interaction, iat: Math.floor(this.#deps.clock.now().getTime() / 1000),
    })
  }
}
