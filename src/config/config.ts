import fs from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import type { ServerEnv } from './env.ts'
import { parseResourceServers, type ResourceServerConfig } from './resource-servers.ts'
import type { AttestationSettings } from '../holders/webauthn/trust-loader.ts'

export type NodeEnv = 'development' | 'test' | 'production'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export type DatabaseConfig =
  /** `ownerUrl`: the role that owns the tables and runs migrations, when not the server's own. */
  /** `poolSize`: connections each server process keeps open at most. */
  /** `readUrl`: a streaming replica for certificate status reads (OCSP, the CRL's scan), ca/status-version.ts. */
  /** `listenUrl`: PostgreSQL itself for the connection that LISTENs for cache changes (db/change-notices.ts), where `url` goes through a pooler. */
  | { kind: 'postgres'; url: string; ownerUrl?: string; poolSize?: number; readUrl?: string; listenUrl?: string }
  | { kind: 'pglite'; dataDir: string }

export interface ServerConfig {
  nodeEnv: NodeEnv
  port: number
  /**
   * The management listener (admin API, operator console), or undefined when ADMIN_PORT=off.
   * `url` is where operators open the console (ADMIN_URL, an origin); unset, the console is at
   * http://localhost:<the port it listens on> (through an SSH tunnel from elsewhere).
   */
  admin: { port: number; host: string; url: string | undefined } | undefined
  publicUrl: URL
  /** The OpenID issuer: PUBLIC_URL without a trailing slash. */
  issuer: string
  dataDir: string
  database: DatabaseConfig
  trustProxy: boolean
  logLevel: LogLevel
  keyRefreshSeconds: number
  sweepIntervalSeconds: number
  /** Validity of a subscriber certificate, and what a renewal adds. */
  certValidityDays: number
  /** Renewal opens this many days before a certificate expires. */
  renewalWindowDays: number
  /** A real SMS gateway, or undefined for the sandbox outbox (refused in production). */
  smsGateway: { url: string; token: string } | undefined
  /** A real identity verification provider, or undefined for the sandbox registry (refused in production). */
  identityProvider: { url: string; token: string } | undefined
  /** The demo relying party to register at start (development only), or undefined. */
  demoRelyingParty: URL | undefined
  /** Server processes sharing the port (node:cluster); above 1 only with PostgreSQL. */
  workers: number
  /**
   * Test mode for the OpenID conformance suite: a sandbox subscriber whose login a scripted
   * browser completes with one click (docs/conformance.md).
   */
  testMode: boolean
  /**
   * How long a login may be reused, at the institution it was made for only, without a new
   * proof of possession (prompt=none, max_age, a second authorization request); 0: never.
   */
  loginReuseSeconds: number
  /** Lifetime of access tokens (from a login and client_credentials): what a bank API trusts without calling back. */
  accessTokenSeconds: number
  /** APIs that services get client_credentials tokens for, opaque or JWT (RESOURCE_SERVERS). */
  resourceServers: ResourceServerConfig[]
  /** Which passkey attestations give the high assurance level (holders/webauthn/attestation.ts). */
  attestation: AttestationSettings
  /** Each instance builds a new CRL at most this often (status changes show at once in OCSP). */
  crlMinIntervalSeconds: number
  /** New certificates are spread over this many CRL partitions, each CRL at /pki/crl/N (0: none). */
  crlPartitions: number
  /** A pre-signed OCSP response's validity (its nextUpdate and HTTP max-age). */
  ocspValiditySeconds: number
  /**
   * With TRUST_PROXY: how many proxies of the operator's append to X-Forwarded-For. The client's
   * address is the entry that many from the right; anything left of it the client wrote itself.
   */
  trustedProxyHops: number
  /** SERVICE_NAME, OPERATOR_NAME and their _EN forms. */
  brand: Brand
  /** The PKCS#11 token holding the issuing CA's key (an HSM), when one is configured. */
  pkcs11: { library: string; tokenLabel: string; pin: string } | undefined
  /** CONSENT_PURPOSE, CONSENT_RETENTION and their _EN forms: the registration page's defaults. */
  consent: ConsentDefaults
}

/** The names citizens see: the service (in titles, texts, the passkey) and who runs it. */
export interface BrandNames {
  service: string
  operator: string
}
export interface Brand {
  ko: BrandNames
  en: BrandNames
}

/** What the registration page says of a provision when the institution registered nothing of its own. */
export interface ConsentDefaults {
  ko: { purpose: string; retention: string }
  en: { purpose: string; retention: string }
}

export const DEFAULT_CONSENT: ConsentDefaults = {
  ko: { purpose: '본인 확인과 로그인', retention: '등록을 해지하거나 기관에서 회원 탈퇴할 때까지 (법령이 더 오래 보관하게 한 정보는 그 기간까지)' },
  en: { purpose: 'Identifying you and logging you in', retention: 'Until you end the registration or leave the institution (longer where the law requires)' },
}

export const DEFAULT_BRAND: Brand = {
  ko: { service: '우체국 금융인증서', operator: '우체국' },
  en: { service: 'Post Office Financial Certificate', operator: 'Korea Post' },
}

/** Thrown for any invalid setting; `message` is the one line printed at start-up. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes')

const integerText = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be an integer between ${min} and ${max}` })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }))

// The names go into pages, SMS texts and the passkey as they are: nothing markup or a
// placeholder could read, and short enough for an SMS prefix and a phone's passkey list.
const brandName = z.string()
  .min(1, { error: 'must not be empty' })
  .max(40, { error: 'must be at most 40 characters' })
  .refine((v) => !/[<>&"'`{}\p{Cc}]/u.test(v), { error: 'must not contain < > & " \' ` { } or control characters' })

// Shown on the registration page as text (escaped): no markup characters, no control characters.
const consentText = z.string()
  .min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' })
  .refine((v) => !/[<>\p{Cc}]/u.test(v), { error: 'must not contain < > or control characters' })

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production'], { error: 'must be development, test or production' }).default('development'),
  PORT: integerText(0, 65535).default(3000),
  ADMIN_PORT: z.union([z.literal('off'), integerText(0, 65535)], { error: 'must be a port (0 to 65535) or off' }).default(3001),
  ADMIN_HOST: z.string().regex(/^[A-Za-z0-9.:[\]-]{1,255}$/, { error: 'must be an address or host name to listen on' }).default('127.0.0.1'),
  ADMIN_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  DATABASE_OWNER_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  DATABASE_POOL_SIZE: integerText(1, 200).default(10),
  DATABASE_READ_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  DATABASE_LISTEN_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  DATA_DIR: z.string().default('./.data'),
  POSTCERT_MASTER_KEY: z.string().optional(),
  TRUST_PROXY: booleanText.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
  KEY_REFRESH_SECONDS: integerText(1, 3600).default(60),
  SWEEP_INTERVAL_SECONDS: integerText(1, 86400).default(60),
  CERT_VALIDITY_DAYS: integerText(1, 825).default(365),
  RENEWAL_WINDOW_DAYS: integerText(1, 365).default(30),
  SMS_GATEWAY_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  SMS_GATEWAY_TOKEN: z.string().optional(),
  IDENTITY_PROVIDER_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  IDENTITY_PROVIDER_TOKEN: z.string().optional(),
  WEB_CONCURRENCY: integerText(1, 64).default(1),
  POSTCERT_TEST_MODE: booleanText.default(false),
  LOGIN_REUSE_SECONDS: integerText(0, 3600).default(600),
  // At most the ID token's hour: key retention (context.ts) counts on nothing signed living longer.
  ACCESS_TOKEN_SECONDS: integerText(60, 3600).default(600),
  OCSP_VALIDITY_SECONDS: integerText(60, 86400).default(300),
  RESOURCE_SERVERS: z.string().optional(),
  PASSKEY_ATTESTATION_ROOTS: z.string().optional(),
  PASSKEY_AAGUIDS: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(\s*,\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$/, { error: 'must be AAGUIDs (8-4-4-4-12 hex digits) separated by commas' }).optional(),
  FIDO_MDS_FILE: z.string().optional(),
  FIDO_MDS_ROOTS: z.string().optional(),
  CRL_MIN_INTERVAL_SECONDS: integerText(0, 3600).default(10),
  // At most CRL_PARTITIONS_MAX (ca/constants.ts), the partitions /pki/crl/N serves.
  CRL_PARTITIONS: integerText(0, 4096).default(0),
  TRUSTED_PROXY_HOPS: integerText(1, 10).default(1),
  SERVICE_NAME: brandName.default(DEFAULT_BRAND.ko.service),
  OPERATOR_NAME: brandName.default(DEFAULT_BRAND.ko.operator),
  SERVICE_NAME_EN: brandName.default(DEFAULT_BRAND.en.service),
  OPERATOR_NAME_EN: brandName.default(DEFAULT_BRAND.en.operator),
  CONSENT_PURPOSE: consentText.default(DEFAULT_CONSENT.ko.purpose),
  CONSENT_PURPOSE_EN: consentText.default(DEFAULT_CONSENT.en.purpose),
  CONSENT_RETENTION: consentText.default(DEFAULT_CONSENT.ko.retention),
  CONSENT_RETENTION_EN: consentText.default(DEFAULT_CONSENT.en.retention),
  PKCS11_LIBRARY: z.string().optional(),
  PKCS11_TOKEN_LABEL: z.string().max(32, { error: 'must be at most 32 characters (a PKCS#11 token label)' }).optional(),
  PKCS11_PIN: z.string().optional(),
  DEMO_RP_URL: z.string().refine((v) => v === 'off' || /^https?:\/\/[^/]/.test(v) && URL.canParse(v), { error: 'must be an absolute http(s) URL or off' }).optional(),
})

/**
 * Validates the environment. Impossible combinations (production without PostgreSQL, an http
 * issuer or a master key) are refused here rather than discovered mid-request.
 */
export function buildConfig(env: ServerEnv): ServerConfig {
  const parsed = schema.safeParse(env)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const name = String(issue.path[0] ?? 'environment')
    throw new ConfigError(`${name} ${issue.message}`)
  }
  const e = parsed.data
  const publicUrl = new URL(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`)
  if (publicUrl.search || publicUrl.hash) throw new ConfigError('PUBLIC_URL must not have a query or fragment')
  const dataDir = path.resolve(e.DATA_DIR)
  if (e.RENEWAL_WINDOW_DAYS >= e.CERT_VALIDITY_DAYS) throw new ConfigError('RENEWAL_WINDOW_DAYS must be shorter than CERT_VALIDITY_DAYS')

  if (e.NODE_ENV === 'production') {
    if (!e.DATABASE_URL) throw new ConfigError('DATABASE_URL is required in production (the embedded database is for development)')
    if (publicUrl.protocol !== 'https:') throw new ConfigError('PUBLIC_URL must be https in production')
    if (!e.POSTCERT_MASTER_KEY) throw new ConfigError('POSTCERT_MASTER_KEY is required in production')
    if (!e.TRUST_PROXY) throw new ConfigError('TRUST_PROXY must be true in production: PostCert serves plain HTTP behind a TLS proxy')
    if (!e.SMS_GATEWAY_URL) throw new ConfigError('SMS_GATEWAY_URL is required in production (the sandbox SMS outbox is for development)')
    if (!e.IDENTITY_PROVIDER_URL) throw new ConfigError('IDENTITY_PROVIDER_URL is required in production (the sandbox identity registry is for development)')
    if (e.POSTCERT_TEST_MODE) throw new ConfigError('POSTCERT_TEST_MODE must not be set in production (its one-click test subscriber is for conformance testing)')
    if (e.DEMO_RP_URL && e.DEMO_RP_URL !== 'off') throw new ConfigError('DEMO_RP_URL must not be set in production (the demo relying party is for development)')
  }
  // The demo relying party is registered by default in development only.
  const demoUrl = e.DEMO_RP_URL ?? (e.NODE_ENV === 'development' ? 'http://localhost:4000' : 'off')
  if (e.WEB_CONCURRENCY > 1 && !e.DATABASE_URL) throw new ConfigError('WEB_CONCURRENCY above 1 needs DATABASE_URL (the embedded database serves one process)')
  if (e.DATABASE_OWNER_URL && !e.DATABASE_URL) throw new ConfigError('DATABASE_OWNER_URL needs DATABASE_URL (the server\'s own role)')
  if (e.DATABASE_READ_URL && !e.DATABASE_URL) throw new ConfigError('DATABASE_READ_URL needs DATABASE_URL (it names a replica of that database)')
  if (e.DATABASE_LISTEN_URL && !e.DATABASE_URL) throw new ConfigError('DATABASE_LISTEN_URL needs DATABASE_URL (it names that database, reached without a pooler)')
  let resourceServers
  try {
    resourceServers = parseResourceServers(e.RESOURCE_SERVERS, { production: e.NODE_ENV === 'production', ownOrigin: publicUrl.origin })
  } catch (err) {
    throw new ConfigError(`RESOURCE_SERVERS ${(err as Error).message}`)
  }
  if (e.SMS_GATEWAY_URL && !e.SMS_GATEWAY_TOKEN) throw new ConfigError('SMS_GATEWAY_TOKEN is required with SMS_GATEWAY_URL')
  if (e.FIDO_MDS_ROOTS && !e.FIDO_MDS_FILE) throw new ConfigError('FIDO_MDS_ROOTS needs FIDO_MDS_FILE (the roots verify that BLOB)')
  const pkcs11 = [e.PKCS11_LIBRARY, e.PKCS11_TOKEN_LABEL, e.PKCS11_PIN]
  if (pkcs11.some((v) => v !== undefined) && !pkcs11.every((v) => v !== undefined)) throw new ConfigError('PKCS11_LIBRARY, PKCS11_TOKEN_LABEL and PKCS11_PIN go together (the token holding the CA key)')
  if (e.PKCS11_LIBRARY && !fs.existsSync(e.PKCS11_LIBRARY)) throw new ConfigError(`PKCS11_LIBRARY names no file (${e.PKCS11_LIBRARY})`)
  if (e.IDENTITY_PROVIDER_URL && !e.IDENTITY_PROVIDER_TOKEN) throw new ConfigError('IDENTITY_PROVIDER_TOKEN is required with IDENTITY_PROVIDER_URL')

  if (e.ADMIN_PORT !== 'off' && e.ADMIN_PORT !== 0 && e.ADMIN_PORT === e.PORT) throw new ConfigError('ADMIN_PORT must differ from PORT: the admin API is never on the public port')
  const adminUrl = e.ADMIN_URL === undefined ? undefined : new URL(e.ADMIN_URL)
  if (adminUrl && adminUrl.href !== `${adminUrl.origin}/`) throw new ConfigError('ADMIN_URL must be an origin (scheme, host, port), without a path, query or fragment: the console is at its /console')
  // Passkeys work only in a secure context: https, or http on the machine itself (an SSH tunnel).
  if (adminUrl && adminUrl.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(adminUrl.hostname)) throw new ConfigError('ADMIN_URL must be https (operators sign in with a passkey, which browsers allow only there), or http://localhost')
  if (adminUrl && adminUrl.origin === publicUrl.origin) throw new ConfigError('ADMIN_URL must differ from PUBLIC_URL: the operator console is never on the public site')
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    admin: e.ADMIN_PORT === 'off' ? undefined : { port: e.ADMIN_PORT, host: e.ADMIN_HOST, url: adminUrl?.origin },
    publicUrl,
    issuer: publicUrl.href.replace(/\/$/, ''),
    dataDir,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, ...(e.DATABASE_OWNER_URL ? { ownerUrl: e.DATABASE_OWNER_URL } : {}), ...(e.DATABASE_READ_URL ? { readUrl: e.DATABASE_READ_URL } : {}), ...(e.DATABASE_LISTEN_URL ? { listenUrl: e.DATABASE_LISTEN_URL } : {}) }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') },
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    keyRefreshSeconds: e.KEY_REFRESH_SECONDS,
    sweepIntervalSeconds: e.SWEEP_INTERVAL_SECONDS,
    certValidityDays: e.CERT_VALIDITY_DAYS,
    renewalWindowDays: e.RENEWAL_WINDOW_DAYS,
    smsGateway: e.SMS_GATEWAY_URL ? { url: e.SMS_GATEWAY_URL, token: e.SMS_GATEWAY_TOKEN! } : undefined,
    identityProvider: e.IDENTITY_PROVIDER_URL ? { url: e.IDENTITY_PROVIDER_URL, token: e.IDENTITY_PROVIDER_TOKEN! } : undefined,
    demoRelyingParty: demoUrl === 'off' ? undefined : new URL(demoUrl),
    workers: e.WEB_CONCURRENCY,
    testMode: e.POSTCERT_TEST_MODE,
    loginReuseSeconds: e.LOGIN_REUSE_SECONDS,
    accessTokenSeconds: e.ACCESS_TOKEN_SECONDS,
    resourceServers,
    ocspValiditySeconds: e.OCSP_VALIDITY_SECONDS,
    attestation: {
      rootsFile: e.PASSKEY_ATTESTATION_ROOTS ? path.resolve(e.PASSKEY_ATTESTATION_ROOTS) : undefined,
      aaguids: e.PASSKEY_AAGUIDS ? e.PASSKEY_AAGUIDS.split(',').map((a) => a.trim().toLowerCase()) : [],
      mdsFile: e.FIDO_MDS_FILE ? path.resolve(e.FIDO_MDS_FILE) : undefined,
      mdsRootsFile: e.FIDO_MDS_ROOTS ? path.resolve(e.FIDO_MDS_ROOTS) : undefined,
    },
    crlMinIntervalSeconds: e.CRL_MIN_INTERVAL_SECONDS,
    crlPartitions: e.CRL_PARTITIONS,
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    brand: {
      ko: { service: e.SERVICE_NAME, operator: e.OPERATOR_NAME },
      en: { service: e.SERVICE_NAME_EN, operator: e.OPERATOR_NAME_EN },
    },
    consent: {
      ko: { purpose: e.CONSENT_PURPOSE, retention: e.CONSENT_RETENTION },
      en: { purpose: e.CONSENT_PURPOSE_EN, retention: e.CONSENT_RETENTION_EN },
    },
    pkcs11: e.PKCS11_LIBRARY ? { library: e.PKCS11_LIBRARY, tokenLabel: e.PKCS11_TOKEN_LABEL!, pin: e.PKCS11_PIN! } : undefined,
  }
}
