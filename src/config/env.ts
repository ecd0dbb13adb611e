// The environment variables PostCert reads, and nothing else. Values stay strings here;
// config.ts validates and converts them so that a bad value fails at start-up with one line.
import fs from 'node:fs'
import { ConfigError } from './config.ts'

export interface ServerEnv {
  NODE_ENV?: string
  PORT?: string
  ADMIN_PORT?: string
  ADMIN_HOST?: string
  ADMIN_URL?: string
  PUBLIC_URL?: string
  DATABASE_URL?: string
  DATABASE_OWNER_URL?: string
  DATABASE_POOL_SIZE?: string
  DATABASE_READ_URL?: string
  DATABASE_LISTEN_URL?: string
  RESOURCE_SERVERS?: string
  DATA_DIR?: string
  POSTCERT_MASTER_KEY?: string
  POSTCERT_PREVIOUS_MASTER_KEYS?: string
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
  PKCS11_LIBRARY?: string
  PKCS11_TOKEN_LABEL?: string
  PKCS11_PIN?: string
  WEB_CONCURRENCY?: string
  POSTCERT_TEST_MODE?: string
  LOGIN_REUSE_SECONDS?: string
  ACCESS_TOKEN_SECONDS?: string
  OCSP_VALIDITY_SECONDS?: string
  PASSKEY_ATTESTATION_ROOTS?: string
  PASSKEY_AAGUIDS?: string
  FIDO_MDS_FILE?: string
  FIDO_MDS_ROOTS?: string
  CRL_MIN_INTERVAL_SECONDS?: string
  CRL_PARTITIONS?: string
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
  'ADMIN_PORT',
  'ADMIN_HOST',
  'ADMIN_URL',
  'PUBLIC_URL',
  'DATABASE_URL',
  'DATABASE_OWNER_URL',
  'DATABASE_POOL_SIZE',
  'DATABASE_READ_URL',
  'DATABASE_LISTEN_URL',
  'RESOURCE_SERVERS',
  'DATA_DIR',
  'POSTCERT_MASTER_KEY',
  'POSTCERT_PREVIOUS_MASTER_KEYS',
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
  'PKCS11_LIBRARY',
  'PKCS11_TOKEN_LABEL',
  'PKCS11_PIN',
  'WEB_CONCURRENCY',
  'LOGIN_REUSE_SECONDS',
  'ACCESS_TOKEN_SECONDS',
  'OCSP_VALIDITY_SECONDS',
  'PASSKEY_ATTESTATION_ROOTS',
  'PASSKEY_AAGUIDS',
  'FIDO_MDS_FILE',
  'FIDO_MDS_ROOTS',
  'CRL_MIN_INTERVAL_SECONDS',
  'CRL_PARTITIONS',
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

/**
 * The settings from `source`. Each may instead be given as NAME_FILE, the path of a file holding
 * the value (Docker and Kubernetes secrets), so that a key or a password need not sit in the
 * environment; naming both is refused, as is a file that cannot be read.
 */
export function readEnv(source: NodeJS.ProcessEnv = process.env): ServerEnv {
  const env: ServerEnv = {}
  for (const name of ENV_NAMES) {
    const value = present(source[name])
    const file = present(source[`${name}_FILE`])
    if (value !== undefined && file !== undefined) throw new ConfigError(`${name} and ${name}_FILE are both set: keep one`)
    if (file !== undefined) env[name] = readSettingFile(`${name}_FILE`, file)
    else if (value !== undefined) env[name] = value
  }
  return env
}

// An empty variable means "not set", as docker-compose and shells often pass them.
function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function readSettingFile(variable: string, file: string): string | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${variable} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)} (${file})`)
  }
  const value = present(text)
  if (value === undefined) throw new ConfigError(`${variable} names an empty file (${file})`)
  return value
}

/**
 * Whether OpenTelemetry's own settings ask for traces: an exporter named (other than none) or an
 * OTLP endpoint given, and the SDK not disabled. Read before anything else loads (main.ts).
 */
export function tracingRequested(source: NodeJS.ProcessEnv): boolean {
  if (present(source.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') return false
  const exporter = present(source.OTEL_TRACES_EXPORTER)
  if (exporter !== undefined) return exporter.split(',').some((e) => e.trim() !== 'none')
  return present(source.OTEL_EXPORTER_OTLP_ENDPOINT) !== undefined || present(source.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined
}
