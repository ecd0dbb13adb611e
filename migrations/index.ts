import type { Kysely } from 'kysely'
import * as platform from './2026-11-25T00-00-00-platform.ts'
import * as certificateAuthority from './2026-11-25T01-00-00-certificate-authority.ts'
import * as enrollment from './2026-11-25T02-00-00-enrollment.ts'
import * as login from './2026-11-25T03-00-00-login.ts'
import * as loginSession from './2026-11-26T00-00-00-login-session.ts'
import * as signatures from './2026-12-01T00-00-00-signatures.ts'
import * as account from './2026-12-01T01-00-00-account.ts'
import * as statusGoverns from './2026-12-06T00-00-00-status-governs.ts'
import * as passkeyAttestation from './2026-12-06T01-00-00-passkey-attestation.ts'
import * as crl from './2026-12-06T02-00-00-crl.ts'
import * as loginChallenge from './2026-12-06T03-00-00-login-challenge.ts'
import * as identityAttempts from './2026-12-06T04-00-00-identity-attempts.ts'
import * as noTruncate from './2026-12-06T05-00-00-no-truncate.ts'
import * as idTokenAlg from './2026-12-06T06-00-00-id-token-alg.ts'
import * as phoneCode from './2026-12-06T08-00-00-phone-code.ts'
import * as subscriberPhone from './2026-12-06T14-00-00-subscriber-phone.ts'
import * as operatorApproval from './2026-12-06T15-00-00-operator-approval.ts'
import * as caTokenKey from './2026-12-06T16-00-00-ca-token-key.ts'
import * as operatorConsole from './2026-12-06T17-00-00-operator-console.ts'
import * as crlPartitions from './2026-12-07T00-00-00-crl-partitions.ts'
import * as challengesRecordedAsUsed from './2026-12-07T01-00-00-challenges-recorded-as-used.ts'

export interface Migration {
  /** ISO-timestamp name; the list below must stay in this order and is never edited, only extended. */
  name: string
  up(db: Kysely<any>): Promise<void>
}

export const migrations: readonly Migration[] = [
  { name: '2026-11-25T00-00-00-platform', up: platform.up },
  { name: '2026-11-25T01-00-00-certificate-authority', up: certificateAuthority.up },
  { name: '2026-11-25T02-00-00-enrollment', up: enrollment.up },
  { name: '2026-11-25T03-00-00-login', up: login.up },
  { name: '2026-11-26T00-00-00-login-session', up: loginSession.up },
  { name: '2026-12-01T00-00-00-signatures', up: signatures.up },
  { name: '2026-12-01T01-00-00-account', up: account.up },
  { name: '2026-12-06T00-00-00-status-governs', up: statusGoverns.up },
  { name: '2026-12-06T01-00-00-passkey-attestation', up: passkeyAttestation.up },
  { name: '2026-12-06T02-00-00-crl', up: crl.up },
  { name: '2026-12-06T03-00-00-login-challenge', up: loginChallenge.up },
  { name: '2026-12-06T04-00-00-identity-attempts', up: identityAttempts.up },
  { name: '2026-12-06T05-00-00-no-truncate', up: noTruncate.up },
  { name: '2026-12-06T06-00-00-id-token-alg', up: idTokenAlg.up },
  { name: '2026-12-06T08-00-00-phone-code', up: phoneCode.up },
  { name: '2026-12-06T14-00-00-subscriber-phone', up: subscriberPhone.up },
  { name: '2026-12-06T15-00-00-operator-approval', up: operatorApproval.up },
  { name: '2026-12-06T16-00-00-ca-token-key', up: caTokenKey.up },
  { name: '2026-12-06T17-00-00-operator-console', up: operatorConsole.up },
  { name: '2026-12-07T00-00-00-crl-partitions', up: crlPartitions.up },
  { name: '2026-12-07T01-00-00-challenges-recorded-as-used', up: challengesRecordedAsUsed.up },
]
