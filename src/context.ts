import { createSecretKey, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { AdapterPayload } from 'oidc-provider'
import type { ServerConfig } from './config/config.ts'
import type { ServerSecrets } from './config/secrets.ts'
import { CLOCK_TOLERANCE_SECONDS, MAX_SIGNED_LIFETIME_SECONDS } from './constants.ts'
import { connectDatabase, MIGRATION_TIMEOUTS } from './db/connect.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest, roleOf, type MigrationReport } from './db/migrator.ts'
import { upkeepSettings, upkeepWarning } from './db/upkeep.ts'
import { migrations } from '../migrations/index.ts'
import { AuditLog } from './audit/audit-log.ts'
import { CertificateAuthority, type CertificateRow } from './ca/authority.ts'
import { CrlPublisher } from './ca/crl.ts'
import { CaHierarchy } from './ca/hierarchy.ts'
import { OcspResponder } from './ca/ocsp.ts'
import { StatusSource } from './ca/status-version.ts'
import { judgeCertificate, judgeRecorded, StaticCheckCache, type Verdict } from './ca/verdict.ts'
import { EnrollmentService } from './enrollment/enrollment-service.ts'
import { HttpIdentityVerifier } from './enrollment/identity/http-identity-verifier.ts'
import type { IdentityVerifier } from './enrollment/identity/identity-verifier.ts'
import { SandboxIdentityRegistry } from './enrollment/identity/sandbox-identity-registry.ts'
import { HttpSmsGateway } from './phone/sms/http-sms-gateway.ts'
import { SandboxSmsGateway } from './phone/sms/sandbox-sms-gateway.ts'
import type { SmsGateway } from './phone/sms/sms-gateway.ts'
import { PasskeyRegistrar } from './holders/webauthn/passkeys.ts'
import { HolderBinding } from './holders/binding.ts'
import type { AttestationTrust } from './holders/webauthn/attestation.ts'
import { loadAttestationTrust } from './holders/webauthn/trust-loader.ts'
import { LoginService } from './login/login-service.ts'
import { PossessionProofs } from './possession/proofs.ts'
import { PhoneCodes } from './phone/phone-codes.ts'
import { CertificateLogins } from './sessions/certificate-logins.ts'
import { LoginSessions } from './sessions/login-sessions.ts'
import { PortalSessions } from './sessions/portal-sessions.ts'
import { TestSubscriber } from './login/test-subscriber.ts'
import { LogoutNotices } from './oidc/logout-notices.ts'
import { AccountService } from './account/account-service.ts'
import { ACCOUNT_CLIENT_ID, registerAccountClient } from './account/portal-client.ts'
import { AccountIssuance } from './account/issuance.ts'
import { Csrf } from './http/csrf.ts'
import { Views } from './http/views.ts'
import { SealedBox, type RewrapCount } from './keys/sealed-box.ts'
import { SecretStore } from './keys/secret-store.ts'
import { SigningKeyStore } from './keys/signing-keys.ts'
import { CLIENT_CACHE_SECONDS, rewrapPayloads } from './oidc/adapter.ts'
import { ClientStore } from './oidc/client-store.ts'
import { registerDemoClient } from './oidc/demo-client.ts'
import { createProvider, pairwiseSubject } from './oidc/provider.ts'
import { ProviderHost } from './oidc/provider-host.ts'
import { HotTokens } from './oidc/hot-tokens.ts'
import { ConstantAnswers } from './http/constant-answers.ts'
import type { AdminDeps } from './admin/api.ts'
import { Approvals } from './admin/approvals.ts'
import { Operators } from './admin/operators.ts'
import { createLogger } from './ops/logger.ts'
import { DailyTally } from './ops/daily-tally.ts'
import { Metrics } from './ops/metrics.ts'
import { ReceiptSigner } from './signing/receipt.ts'
import { SigningService } from './signing/signing-service.ts'
import { systemClock, type Clock } from './util/clock.ts'
import { RateLimiter } from './util/rate-limiter.ts'
import { TtlCache } from './util/ttl-cache.ts'
import { ChangeNotices } from './db/change-notices.ts'
import { RequestRows } from './db/request-rows.ts'
import { SubscriberStore } from './subscribers/subscriber-store.ts'
import { Registrations } from './registrations/registrations.ts'

/**
 * The checkout (views/, public/, src/browser/, package.json): the nearest directory above this
 * module with a package.json, the same whether it runs as src/context.ts or as the built
 * dist/src/context.js (bin/build.ts).
 */
export const ROOT_DIR = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
  return dir
})()

/** The services a test may replace with its own: each is then used by every service built after it. */
type ReplaceableServices = Pick<AppContext, 'audit' | 'logoutNotices' | 'loginSessions' | 'portalSessions' | 'certificateLogins' | 'authority' | 'crl' | 'ocsp'
  | 'limiter' | 'subscribers' | 'phoneCodes' | 'passkeys' | 'binding' | 'enrollment' | 'possession' | 'login' | 'signing' | 'account' | 'registrations'
  | 'issuance' | 'clients' | 'hotTokens'>

export interface ContextOverrides extends Partial<ReplaceableServices> {
  clock?: Clock
  logger?: Logger
  db?: Database
  /** The tables' owner, for migrations (tests running the server as a limited role, as DATABASE_OWNER_URL does). */
  migrationDb?: Database
  sms?: SmsGateway
  identity?: IdentityVerifier
  /** Outgoing requests of the provider (tests trust their own TLS CA). */
  fetch?: typeof globalThis.fetch
  /**
   * A context for an operator's tool (the CLI), not a server: it registers nothing at opening
   * (the portal's and the demo's clients are the server's, with the server's settings).
   */
  tool?: boolean
}

/** What must exist before the services: the database at the latest schema, keys and CA ensured, server secrets read. */
interface Foundation {
  config: ServerConfig
  logger: Logger
  clock: Clock
  db: Database
  box: SealedBox
  secrets: SecretStore
  signingKeys: SigningKeyStore
  ca: CaHierarchy
  attestation: AttestationTrust
  serverKeys: { cookieKeys: string[]; csrfKey: string; pairwiseSalt: string; otpKey: KeyObject; ciKey: KeyObject; challengeKey: KeyObject }
}

/**
 * Applies pending migrations. On PostgreSQL they run on a connection of their own without the
 * request path's statement and query timeouts (a migration may take long; requests must not),
 * as DATABASE_OWNER_URL's role when it is set, which then grants the server's role (DATABASE_URL's)
 * what it needs and no more (migrator.ts). `db` is the server's connection; `migrationDb` a test's
 * owner connection; `ownDb` whether `db` was opened from the config (so another may be opened).
 */
export async function migrateDatabase(config: ServerConfig, db: Database, options: { migrationDb?: Database; ownDb: boolean }): Promise<MigrationReport> {
  const database = config.database
  const opened = !options.migrationDb && options.ownDb && database.kind === 'postgres'
    ? connectDatabase({ kind: 'postgres', url: database.ownerUrl ?? database.url }, MIGRATION_TIMEOUTS)
    : undefined
  const owner = options.migrationDb ?? opened ?? db
  try {
    const separate = owner !== db && (options.migrationDb !== undefined || (database.kind === 'postgres' && database.ownerUrl !== undefined))
    return await migrateToLatest(owner, migrations, { grantTo: separate ? await roleOf(db) : undefined })
  } finally {
    await opened?.destroy()
  }
}

/**
 * How long a retired signing key stays published: while anything it signed may still be checked
 * (the longest signed lifetime), plus the time other instances may keep signing before they reload.
 */
const keyRetentionSeconds = (config: ServerConfig) => MAX_SIGNED_LIFETIME_SECONDS + config.keyRefreshSeconds + CLOCK_TOLERANCE_SECONDS

/** What `postcert verify` reads of a PostCert: its CAs, the keys that signed receipts, certificates' status now. */
export interface Verifier {
  db: Database
  ca: CaHierarchy
  signingKeys: SigningKeyStore
  judgeCertificate(serial: string): Promise<Verdict>
  close(): Promise<void>
}

/**
 * Opens a PostCert's database for verification only: nothing is migrated, created or registered
 * (a verification tool pointed at the wrong database must not set one up).
 */
export function openVerifier(config: ServerConfig, secrets: ServerSecrets, clock: Clock = systemClock): Verifier {
  const db = connectDatabase(config.database)
  const box = new SealedBox(secrets.masterKey, secrets.previousMasterKeys)
  const ca = new CaHierarchy(db, box, clock, config.pkcs11)
  const checks = new StaticCheckCache()
  return {
    db, ca,
    signingKeys: new SigningKeyStore(db, box, clock, keyRetentionSeconds(config)),
    judgeCertificate: (serial) => judgeCertificate(db, ca, serial, clock.now(), checks),
    close: () => db.destroy(),
  }
}

/**
 * Everything a running PostCert needs, built once from the config and passed down: every service
 * exists when fromConfig returns, and none is built anywhere else. Tests build it with overrides
 * (a fixed clock, a test database, a gateway of their own) instead of stubbing modules. Routes are
 * mounted outside (routes.ts), and so is the periodic work (jobs.ts).
 */
export class AppContext {
  readonly config: ServerConfig
  readonly logger: Logger
  readonly clock: Clock
  readonly db: Database
  /** The streaming replica that certificate status reads may go to (DATABASE_READ_URL). */
  readonly #replica: Database | undefined
  readonly box: SealedBox
  readonly secrets: SecretStore
  readonly signingKeys: SigningKeyStore
  readonly audit: AuditLog
  readonly ca: CaHierarchy
  readonly authority: CertificateAuthority
  /** Which certificate each login used, and for which institution. */
  readonly loginSessions: LoginSessions
  /** The subscriber portal's sessions. */
  readonly portalSessions: PortalSessions
  /** What a certificate's logins opened ends with it (told by the CA; also the expiry job). */
  readonly certificateLogins: CertificateLogins
  /** Back-channel logouts owed to institutions, until delivered. */
  readonly logoutNotices: LogoutNotices
  readonly crl: CrlPublisher
  readonly ocsp: OcspResponder
  readonly limiter: RateLimiter
  /** Changes to what instances cache (clients, subscribers' claims), announced to all of them. */
  readonly changes: ChangeNotices
  /** What each HTTP request read ahead or holds for its next statement (db/request-rows.ts). */
  readonly requests = new RequestRows()
  /** The operator console's dashboard counts, added to the database by the jobs and at close. */
  readonly tally: DailyTally
  /** The people at the operator console and their passkeys (admin/operators.ts). */
  readonly operators: Operators
  /** Dual control: what one operator asks and another approves (admin/approvals.ts). */
  readonly approvals: Approvals
  /** The port the management listener got (serve.ts), for the console's default address. */
  #adminPort: number | undefined
  readonly subscribers: SubscriberStore
  /** Phone codes: the configured gateway, or the sandbox outbox outside production. */
  readonly sms: SmsGateway
  /** Phone codes for every purpose (enrollment, the portal's step-up), texted through `sms`. */
  readonly phoneCodes: PhoneCodes
  /** Identity documents: the configured provider, or the sandbox registry outside production. */
  readonly identity: IdentityVerifier
  readonly metrics = new Metrics()
  readonly views: Views
  /** Tokens of the forms the pages post, keyed by a server secret. */
  readonly csrf: Csrf
  readonly cookieKeys: string[]
  /** Registers passkeys; knows which authenticators are hardware-bound (read at start-up). */
  readonly passkeys: PasskeyRegistrar
  /** A new holder (passkey, certificate file) bound to a certificate, for enrollment and the portal. */
  readonly binding: HolderBinding
  readonly enrollment: EnrollmentService
  /** Proof of possession, shared by login and signing: challenges, failure accounting, passkey checks. */
  readonly possession: PossessionProofs
  readonly login: LoginService
  readonly signing: SigningService
  /** Signs signature receipts with the provider's active EC key (set at every provider build). */
  readonly receipts = new ReceiptSigner()
  /** The subscriber portal: sessions, certificates, registered institutions. */
  readonly account: AccountService
  /** Registrations at institutions (the consent), with their grants. */
  readonly registrations: Registrations
  /** Certificates issued from the portal (renewal, another holder). */
  readonly issuance: AccountIssuance
  /** The live provider, rebuilt when the signing keys change; routes.ts mounts the app on it. */
  readonly host: ProviderHost
  /** Relying parties registered by the operator. */
  readonly clients: ClientStore
  /** TEST_MODE's one-click subscriber (never in production). */
  readonly testSubscriber: TestSubscriber | undefined
  /** The issuer is https: secure cookies, HSTS, https required. */
  readonly https: boolean
  /** Discovery and the JWKS as bytes, written without the app (http/constant-answers.ts). */
  readonly answers: ConstantAnswers
  /** Service tokens introspection found, kept for a second and dropped by change notices (oidc/hot-tokens.ts). */
  readonly hotTokens: HotTokens
  /** The pairwise salt, imported once as an HMAC key (its UTF-8 bytes, as createHmac takes a string). */
  readonly #pairwiseKey: KeyObject
  readonly #staticChecks = new StaticCheckCache()

  /** Re-seals every sealed value with the current master key, table by table (each by its owner). */
  async rewrapSecrets(): Promise<RewrapCount[]> {
    return [await this.secrets.rewrap(), await this.signingKeys.rewrap(), await this.ca.rewrap(), await rewrapPayloads(this.db, this.box), await this.approvals.rewrap()]
  }

  /** What the admin API works with (the management listener, and the CLI when no server runs). */
  adminDeps(): AdminDeps {
    return {
      db: this.db, clock: this.clock, issuer: this.config.issuer, keyRefreshSeconds: this.config.keyRefreshSeconds, provider: () => this.host.provider,
      clients: this.clients, signingKeys: this.signingKeys, ca: this.ca, authority: this.authority, subscribers: this.subscribers,
      registrations: this.registrations, audit: this.audit, receipts: this.receipts,
      approvals: this.approvals,
      limiter: this.limiter, operators: this.operators,
    }
  }

  /**
   * Migrates, checks the master key, creates first-start keys, secrets and CA, builds every
   * service and the provider, and registers the first-party clients. What it opened is closed
   * again if any step fails.
   */
  static async fromConfig(config: ServerConfig, secrets: ServerSecrets, overrides: ContextOverrides = {}): Promise<AppContext> {
    const logger = overrides.logger ?? createLogger(config.logLevel)
    const clock = overrides.clock ?? systemClock
    const db = overrides.db ?? connectDatabase(config.database)
    try {
      const { applied } = await migrateDatabase(config, db, { migrationDb: overrides.migrationDb, ownDb: !overrides.db })
      if (applied.length) logger.info({ applied }, 'migrations applied')
      if (config.nodeEnv === 'production' && config.database.kind === 'postgres' && !config.database.ownerUrl) {
        logger.warn('DATABASE_OWNER_URL is unset: the server\'s role owns the tables, so whoever takes over the server can truncate the audit log and the signature archive (README, Database roles)')
      }
      // The server's concern, said as it starts; a command of the CLI keeps to its own output.
      const upkeep = config.database.kind === 'postgres' && overrides.tool !== true ? upkeepWarning(await upkeepSettings(db)) : undefined
      if (upkeep) logger.warn(upkeep)
      const box = new SealedBox(secrets.masterKey, secrets.previousMasterKeys)
      const secretStore = new SecretStore(db, box)
      await secretStore.checkMasterKey()
      if (await secretStore.sealedWithPreviousKey()) {
        logger.warn({ master_key: box.keyId }, 'values sealed with a previous master key remain: run postcert secrets rewrap, then drop it from POSTCERT_PREVIOUS_MASTER_KEYS')
      }
      const signingKeys = new SigningKeyStore(db, box, clock, keyRetentionSeconds(config))
      await signingKeys.ensure()
      const ca = new CaHierarchy(db, box, clock, config.pkcs11)
      await ca.ensure()
      const one = async (name: string) => (await secretStore.randomKeys(name, 1))[0]!
      const hmacKey = async (name: string) => createSecretKey(Buffer.from(await one(name), 'base64url'))
      const serverKeys = {
        cookieKeys: await secretStore.randomKeys('cookie-keys', 2),
        csrfKey: await one('csrf-key'),
        pairwiseSalt: await one('pairwise-salt'),
        // HMAC keys, imported once (keys/sealed-box.ts says why).
        otpKey: await hmacKey('otp-key'),
        ciKey: await hmacKey('ci-key'),
        challengeKey: await hmacKey('login-challenge-key'),
      }
      // Which passkeys are hardware-bound: read at start-up (a bad file stops it here).
      const attestation = await loadAttestationTrust(config.attestation, clock.now(), logger)
      const ctx = new AppContext({ config, logger, clock, db, box, secrets: secretStore, signingKeys, ca, attestation, serverKeys }, overrides)
      await ctx.#open(overrides.tool === true)
      return ctx
    } catch (err) {
      if (!overrides.db) await db.destroy().catch(() => {})
      throw err
    }
  }

  private constructor(base: Foundation, overrides: ContextOverrides) {
    const { config, clock, db, box, serverKeys } = base
    const o = overrides
    this.config = config
    this.logger = base.logger
    this.clock = clock
    this.db = db
    this.box = box
    this.secrets = base.secrets
    this.signingKeys = base.signingKeys
    this.ca = base.ca
    this.https = config.publicUrl.protocol === 'https:'
    this.answers = new ConstantAnswers({ logger: this.logger, metrics: this.metrics, trustProxy: config.trustProxy, https: this.https })
    this.changes = new ChangeNotices({
      onError: (err) => this.logger.warn({ cause: (err as Error).message }, 'listening for cache changes (LISTEN postcert_changes) failed: retrying; meanwhile a change made on another instance is seen here when the cache entry expires'),
    })
    this.cookieKeys = serverKeys.cookieKeys
    this.views = new Views(path.join(ROOT_DIR, 'views'), config.brand)
    this.csrf = new Csrf(serverKeys.csrfKey)
    this.#pairwiseKey = createSecretKey(Buffer.from(serverKeys.pairwiseSalt, 'utf8'))
    this.tally = new DailyTally(db, clock)
    this.metrics.watchLoginFailures((reason) => this.tally.count('login_failure', reason))
    this.audit = o.audit ?? new AuditLog(clock, (event) => {
      this.metrics.audited(event)
      this.tally.audited(event)
    })
    this.operators = new Operators({ db, clock, audit: this.audit, origin: () => this.adminOrigin, serviceName: config.brand.en.service })
    this.logoutNotices = o.logoutNotices ?? new LogoutNotices({ db, clock, provider: () => this.host.provider, logger: this.logger })
    this.loginSessions = o.loginSessions ?? new LoginSessions({ db, clock })
    this.portalSessions = o.portalSessions ?? new PortalSessions({ db, clock, provider: () => this.host.provider })
    this.certificateLogins = o.certificateLogins ?? new CertificateLogins({ db, clock, notices: this.logoutNotices, logger: this.logger })
    this.authority = o.authority ?? new CertificateAuthority({
      db, hierarchy: this.ca, clock, audit: this.audit, listener: this.certificateLogins, statusCommitted: () => this.ocsp.statusChanged(),
      settings: { issuer: config.issuer, validityDays: config.certValidityDays, renewalWindowDays: config.renewalWindowDays, crlPartitions: config.crlPartitions },
    })
    this.approvals = new Approvals({ db, clock, audit: this.audit, authority: this.authority, box: this.box, token: config.pkcs11 })
    // Certificate status reads (OCSP, the CRL's scan) go to a streaming replica that has caught up, when one is set.
    const database = config.database
    this.#replica = database.kind === 'postgres' && database.readUrl ? connectDatabase({ kind: 'postgres', url: database.readUrl, poolSize: database.poolSize }) : undefined
    const statuses = new StatusSource(db, this.#replica, {
      onReplicaError: (err) => this.logger.warn({ cause: (err as Error).message }, 'the read replica (DATABASE_READ_URL) failed: status reads go to the database for a few seconds'),
    })
    this.crl = o.crl ?? new CrlPublisher(db, this.ca, clock, { issuer: config.issuer, minIntervalSeconds: config.crlMinIntervalSeconds, logger: this.logger, source: statuses })
    this.metrics.watchCrlAge(async () => {
      const thisUpdate = await this.crl.publishedAt()
      return thisUpdate && (clock.now().getTime() - thisUpdate.getTime()) / 1000
    })
    this.ocsp = o.ocsp ?? new OcspResponder(db, this.ca, clock, { validitySeconds: config.ocspValiditySeconds, source: statuses })
    this.limiter = o.limiter ?? new RateLimiter(db, clock)
    this.subscribers = o.subscribers ?? new SubscriberStore({ db, clock, changes: this.changes })
    this.sms = o.sms ?? (config.smsGateway ? new HttpSmsGateway(config.smsGateway.url, config.smsGateway.token) : new SandboxSmsGateway(db, clock))
    this.identity = o.identity ?? (config.identityProvider ? new HttpIdentityVerifier(config.identityProvider.url, config.identityProvider.token) : new SandboxIdentityRegistry())
    this.phoneCodes = o.phoneCodes ?? new PhoneCodes({ db, clock, sms: timedSms(this.sms, this.metrics), limiter: this.limiter, key: serverKeys.otpKey, service: { ko: config.brand.ko.service, en: config.brand.en.service } })
    this.passkeys = o.passkeys ?? new PasskeyRegistrar(config.issuer, base.attestation, clock, config.brand.ko.service)
    this.binding = o.binding ?? new HolderBinding({ db, clock, passkeys: this.passkeys, authority: this.authority, hierarchy: this.ca })
    this.enrollment = o.enrollment ?? new EnrollmentService({
      db, clock, phoneCodes: this.phoneCodes, identity: timedIdentity(this.identity, this.metrics), limiter: this.limiter, authority: this.authority, audit: this.audit, subscribers: this.subscribers,
      ciKey: serverKeys.ciKey, binding: this.binding,
    })
    const judge = (input: Uint8Array | string, at?: Date) => this.judgeCertificate(input, at)
    const judgeRow = async (input: Uint8Array | string, serial: string, row: CertificateRow | undefined, at: Date) => await judgeRecorded(this.ca, input, serial, row, at, this.#staticChecks)
    this.possession = o.possession ?? new PossessionProofs({ db, clock, limiter: this.limiter, issuer: config.issuer, judge, judgeRecorded: judgeRow, requests: this.requests, challengeKey: serverKeys.challengeKey })
    this.login = o.login ?? new LoginService({ db, clock, issuer: config.issuer, possession: this.possession })
    this.signing = o.signing ?? new SigningService({
      db, clock, issuer: config.issuer, possession: this.possession, ocsp: this.ocsp, receipts: this.receipts, audit: this.audit,
      caChain: async () => {
        const issuing = await this.ca.issuing()
        return [new Uint8Array(issuing.certificate.rawData), new Uint8Array(issuing.root.rawData)]
      },
    })
    this.account = o.account ?? new AccountService({ db, clock, authority: this.authority, audit: this.audit })
    this.registrations = o.registrations ?? new Registrations({ db, clock, audit: this.audit, provider: () => this.host.provider, notices: this.logoutNotices })
    this.issuance = o.issuance ?? new AccountIssuance({
      db, clock, authority: this.authority, phoneCodes: this.phoneCodes, audit: this.audit, binding: this.binding, sessions: this.portalSessions,
    })
    this.testSubscriber = config.testMode
      ? new TestSubscriber({ db, subscribers: this.subscribers, secrets: this.secrets, authority: this.authority, ca: this.ca, clock, issuer: config.issuer })
      : undefined
    this.hotTokens = o.hotTokens ?? new HotTokens()
    this.hotTokens.listen(this.changes)
    this.host = this.#providerHost(overrides.fetch)
    this.clients = o.clients ?? new ClientStore({ db, box, clock, changes: this.changes }, () => this.host.provider)
  }

  /** The provider, rebuilt with each new set of published keys; one client and claims cache for all of them. */
  #providerHost(fetch: typeof globalThis.fetch | undefined): ProviderHost {
    const { config, db } = this
    const clientCache = new TtlCache<AdapterPayload>(CLIENT_CACHE_SECONDS)
    this.changes.register('client', clientCache)
    return new ProviderHost({
      keys: this.signingKeys,
      logger: this.logger,
      metrics: this.metrics,
      answers: this.answers,
      build: (jwks) => {
        this.receipts.use(jwks)
        return createProvider({
          issuer: config.issuer, trustProxy: config.trustProxy, trustedProxyHops: config.trustedProxyHops, secureCookies: this.https,
          jwks, cookieKeys: this.cookieKeys, views: this.views, db, box: this.box, clock: this.clock, pairwiseKey: this.#pairwiseKey, clientCache, changes: this.changes, requests: this.requests,
          hotTokens: this.hotTokens, answers: this.answers,
          allowPrivateNetworkFetch: config.nodeEnv !== 'production', production: config.nodeEnv === 'production',
          fetch, firstPartyClients: [ACCOUNT_CLIENT_ID],
          rememberLogin: (ref, serial, clientId) => this.loginSessions.rememberStatement(ref, serial, clientId),
          loginCertificate: (ref) => this.loginSessions.certificateOf(ref),
          accessTokenSeconds: config.accessTokenSeconds, resourceServers: config.resourceServers,
          loginPolicy: { loginReuseSeconds: config.loginReuseSeconds, loginClient: (ref) => this.loginSessions.clientOf(ref) },
          findSubscriber: (id) => this.subscribers.claims(id),
        })
      },
    })
  }

  /** Builds the first provider, the test subscriber if any, and registers the portal (and the demo relying party). */
  async #open(tool: boolean): Promise<void> {
    await this.host.refresh()
    if (tool) return
    const database = this.config.database
    if (database.kind === 'postgres') {
      // A failure here is reported and retried in the background; the caches' expiry bounds what is missed meanwhile.
      await this.changes.listen(database.listenUrl ?? database.url).catch(() => {})
    }
    if (this.testSubscriber) {
      await this.testSubscriber.ensure()
      this.logger.warn('test mode: a one-click test subscriber on the login page (never in production)')
    }
    await registerAccountClient(this.clients, this.config.issuer, { ko: this.config.brand.ko.service, en: this.config.brand.en.service }, this.logger)
    if (this.config.demoRelyingParty) {
      await registerDemoClient({ store: this.clients, issuer: this.config.issuer, url: this.config.demoRelyingParty, dataDir: this.config.dataDir, logger: this.logger })
    }
  }

  /** Is this certificate (DER or serial) ours, valid at `at`, not revoked or suspended? */
  async judgeCertificate(input: Uint8Array | string, at: Date = this.clock.now()): Promise<Verdict> {
    return await judgeCertificate(this.db, this.ca, input, at, this.#staticChecks)
  }

  /** The subject a client knows a subscriber by, as in its ID tokens: pairwise unless the client is registered for public subjects. */
  async subjectFor(clientId: string, subscriberId: string): Promise<string> {
    const client = await this.host.provider.Client.find(clientId)
    if (!client) throw new Error(`client ${clientId} vanished during its own request`)
    return client.subjectType === 'public' ? subscriberId : pairwiseSubject(this.#pairwiseKey, this.config.issuer, client, subscriberId)
  }

  /**
   * Where operators open the console: ADMIN_URL, or this machine's address of the management
   * listener; undefined when it is off (ADMIN_PORT=off).
   */
  get adminOrigin(): string | undefined {
    const admin = this.config.admin
    if (!admin) return undefined
    return admin.url ?? `http://localhost:${this.#adminPort ?? admin.port}`
  }

  /** The management listener is listening on `port` (port 0 in tests gets one). */
  adminListening(port: number): void {
    this.#adminPort = port
  }

  async close(): Promise<void> {
    this.ca.close()
    await this.changes.close()
    await this.tally.flush().catch((err: unknown) => this.logger.warn({ err }, 'the dashboard\'s last counts were not saved'))
    await this.db.destroy()
    await this.#replica?.destroy()
  }
}

/** The SMS gateway with each message's delivery timed and counted (postcert_provider_request_duration_seconds). */
export function timedSms(gateway: SmsGateway, metrics: Metrics): SmsGateway {
  return { kind: gateway.kind, send: (to, body, options) => metrics.timeProvider('sms', () => gateway.send(to, body, options)) }
}

/** The identity provider with each check timed and counted. */
function timedIdentity(verifier: IdentityVerifier, metrics: Metrics): IdentityVerifier {
  return { kind: verifier.kind, verify: (document) => metrics.timeProvider('identity', () => verifier.verify(document)) }
}
