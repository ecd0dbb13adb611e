import type { Kysely, Transaction } from 'kysely'
import type { AccountSessionSchema } from './schema/account-session.ts'
import type { AuditEventSchema } from './schema/audit-event.ts'
import type { CaCertificateSchema } from './schema/ca-certificate.ts'
import type { CaChallengeSchema } from './schema/ca-challenge.ts'
import type { CertificateStatusVersionSchema } from './schema/certificate-status-version.ts'
import type { CertificateSchema } from './schema/certificate.ts'
import type { CrlSchema } from './schema/crl.ts'
import type { DailyTallySchema } from './schema/daily-tally.ts'
import type { EnrollmentSchema } from './schema/enrollment.ts'
import type { ExpiryReminderSchema } from './schema/expiry-reminder.ts'
import type { LoginChallengeSchema } from './schema/login-challenge.ts'
import type { LoginSessionSchema } from './schema/login-session.ts'
import type { LogoutNoticeSchema } from './schema/logout-notice.ts'
import type { MigrationSchema } from './schema/migration.ts'
import type { OidcPayloadSchema } from './schema/oidc-payload.ts'
import type { OperatorApprovalSchema } from './schema/operator-approval.ts'
import type { OperatorSchema } from './schema/operator.ts'
import type { PhoneCodeSchema } from './schema/phone-code.ts'
import type { RateLimitSchema } from './schema/rate-limit.ts'
import type { ReceiptKeySchema } from './schema/receipt-key.ts'
import type { RegistrationSchema } from './schema/registration.ts'
import type { SandboxSmsSchema } from './schema/sandbox-sms.ts'
import type { ServerSecretSchema } from './schema/server-secret.ts'
import type { SignatureSchema } from './schema/signature.ts'
import type { SigningKeySchema } from './schema/signing-key.ts'
import type { SubscriberSchema } from './schema/subscriber.ts'
import type { WebauthnCredentialSchema } from './schema/webauthn-credential.ts'

/** One schema file per table (src/db/schema), intersected. */
export type DatabaseSchema =
  AccountSessionSchema
  & AuditEventSchema
  & CaCertificateSchema
  & CaChallengeSchema
  & CertificateStatusVersionSchema
  & CertificateSchema
  & CrlSchema
  & DailyTallySchema
  & EnrollmentSchema
  & ExpiryReminderSchema
  & LoginChallengeSchema
  & OperatorApprovalSchema
  & OperatorSchema
  & LoginSessionSchema
  & LogoutNoticeSchema
  & MigrationSchema
  & OidcPayloadSchema
  & PhoneCodeSchema
  & RateLimitSchema
  & ReceiptKeySchema
  & RegistrationSchema
  & SandboxSmsSchema
  & ServerSecretSchema
  & SignatureSchema
  & SigningKeySchema
  & SubscriberSchema
  & WebauthnCredentialSchema

export type Database = Kysely<DatabaseSchema>
export type DatabaseTransaction = Transaction<DatabaseSchema>
