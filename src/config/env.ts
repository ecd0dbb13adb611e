// The environment variables PostCert reads, and nothing else. Values stay strings here;
// config.ts validates and converts them so that a bad value fails at start-up with one line.
export interface ServerEnv {
  NODE_ENV?: string
  PORT?: string
  PUBLIC_URL?: string
  DATABASE_URL?: string
  DATABASE_OWNER_URL?: string
  DATA_DIR?: string
  POSTCERT_MASTER_KEY?: string
  TRUST_PROXY?: string
  LOG_LEVEL?: string
  KEY_REFRESH_SECONDS?: string
  SWEEP_INTERVAL_SECONDS?: string
  CERT_VALIDITY_DAYS?: string
  RENEWAL_WINDOW_DAYS?: string
  SMS_GATEWAY_URL?: string
  SMS_GATEWAY_TOKEN?: string
  IDENTITY_PROVIDER_URL?: string
  IDENTITY_PROVIDER_TOKEN?: string
  DEMO_RP_URL?: string
  WEB_CONCURRENCY?: string
  POSTCERT_TEST_MODE?: string
  LOGIN_REUSE_SECONDS?: string
  PASSKEY_ATTESTATION_ROOTS?: string
  PASSKEY_AAGUIDS?: string
  FIDO_MDS_FILE?: string
  FIDO_MDS_ROOTS?: string
  CRL_MIN_INTERVAL_SECONDS?: string
  TRUSTED_PROXY_HOPS?: string
  SERVICE_NAME?: string
  OPERATOR_NAME?: string
  SERVICE_NAME_EN?: string
  OPERATOR_NAME_EN?: string
  CONSENT_PURPOSE?: string
  CONSENT_PURPOSE_EN?: string
  CONSENT_RETENTION?: string
  CONSENT_RETENTION_EN?: string
}

export const ENV_NAMES = [
  'NODE_ENV',
  'PORT',
  'PUBLIC_URL',
  'DATABASE_URL',
  'DATABASE_OWNER_URL',
  'DATA_DIR',
  'POSTCERT_MASTER_KEY',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'KEY_REFRESH_SECONDS',
  'SWEEP_INTERVAL_SECONDS',
  'CERT_VALIDITY_DAYS',
  'RENEWAL_WINDOW_DAYS',
  'SMS_GATEWAY_URL',
  'SMS_GATEWAY_TOKEN',
  'IDENTITY_PROVIDER_URL',
  'IDENTITY_PROVIDER_TOKEN',
  'POSTCERT_TEST_MODE',
  'DEMO_RP_URL',
  'WEB_CONCURRENCY',
  'LOGIN_REUSE_SECONDS',
  'PASSKEY_ATTESTATION_ROOTS',
  'PASSKEY_AAGUIDS',
  'FIDO_MDS_FILE',
  'FIDO_MDS_ROOTS',
  'CRL_MIN_INTERVAL_SECONDS',
  'TRUSTED_PROXY_HOPS',
  'SERVICE_NAME',
  'OPERATOR_NAME',
  'SERVICE_NAME_EN',
  'OPERATOR_NAME_EN',
  'CONSENT_PURPOSE',
  'CONSENT_PURPOSE_EN',
  'CONSENT_RETENTION',
  'CONSENT_RETENTION_EN',
] as const satisfies readonly (keyof ServerEnv)[]

export function readEnv(source: NodeJS.ProcessEnv = process.env): ServerEnv {
  const env: ServerEnv = {}
  for (const name of ENV_NAMES) {
    const value = source[name]
    // An empty variable means "not set", as docker-compose and shells often pass them.
    if (value !== undefined && value.trim() !== '') env[name] = value.trim()
  }
  return env
}
