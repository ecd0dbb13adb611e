import type { AccountSchema } from './schema/account.ts'
import type { Kysely, Transaction } from 'kysely'
import type { CaSchema } from './schema/ca.ts'
import type { EnrollmentSchema } from './schema/enrollment.ts'
import type { LogoutNoticeSchema } from './schema/logout-notice.ts'
import type { MigrationSchema } from './schema/migration.ts'
import type { OidcPayloadSchema } from './schema/oidc-payload.ts'
import type { ServerSecretSchema } from './schema/server-secret.ts'
import type { SignatureSchema } from './schema/signature.ts'
import type { SigningKeySchema } from './schema/signing-key.ts'

export type DatabaseSchema = AccountSchema & CaSchema & EnrollmentSchema & LogoutNoticeSchema & MigrationSchema & OidcPayloadSchema & ServerSecretSchema & SignatureSchema & SigningKeySchema

export type Database = Kysely<DatabaseSchema>
export type DatabaseTransaction = Transaction<DatabaseSchema>
