import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino, { type Logger } from 'pino'
import type { ServerConfig } from './config/config.ts'
import type { ServerSecrets } from './config/secrets.ts'
import { CLOCK_TOLERANCE_SECONDS, CRL_CHECK_SECONDS, EXPIRY_REMINDER_SECONDS, LOGOUT_NOTICE_SECONDS, MAX_SIGNED_LIFETIME_SECONDS, SUBSCRIBER_CACHE_SECONDS, SWEEP_BATCH_SIZE } from './constants.ts'
import { connectDatabase, MIGRATION_TIMEOUTS } from './db/connect.ts'
import { DatabaseUnavailableError } from './errors/postcert-error.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest, roleOf, type MigrationReport } from './db/migrator.ts'
import { migrations } from '../migrations/index.ts'
import { AuditLog } from './audit/audit-log.ts'
import { CertificateAuthority } from './ca/authority.ts'
import { CrlPublisher } from './ca/crl.ts'
import { CaHierarchy } from './ca/hierarchy.ts'
import { OcspResponder } from './ca/ocsp.ts'
import { addPkiRoutes } from './ca/routes.ts'
import { judgeCertificate, StaticCheckCache, type Verdict } from './ca/verdict.ts'
import { EnrollmentService } from './enrollment/enrollment-service.ts'
import { HttpIdentityVerifier } from './enrollment/identity/http-identity-verifier.ts'
import type { IdentityVerifier } from './enrollment/identity/identity-verifier.ts'
import { SandboxIdentityRegistry } from './enrollment/identity/sandbox-identity-registry.ts'
import { addEnrollmentRoutes } from './enrollment/routes.ts'
import { HttpSmsGateway } from './enrollment/sms/http-sms-gateway.ts'
import { SandboxSmsGateway } from './enrollment/sms/sandbox-sms-gateway.ts'
import type { SmsGateway } from './enrollment/sms/sms-gateway.ts'
import { PasskeyRegistrar } from './holders/webauthn/passkeys.ts'
import { loadAttestationTrust } from './holders/webauthn/trust-loader.ts'
import { LoginService } from './login/login-service.ts'
import { CertificateLogins } from './login/certificate-logins.ts'
import { LogoutNotices } from './oidc/logout-notices.ts'
import { AccountService } from './account/account-service.ts'
import { ExpiryReminders } from './account/expiry-reminders.ts'
import { ACCOUNT_CLIENT_ID, registerAccountClient } from './account/portal-client.ts'
import { addAccountRoutes } from './account/routes.ts'
import { AccountIssuance } from './account/issuance.ts'
import { TestSubscriber } from './login/test-subscriber.ts'
import { mountApp } from './http/app.ts'
import { buildBrowserBundles } from './http/bundles.ts'
import { Csrf } from './http/csrf.ts'
import { Router } from './http/router.ts'
import { Views } from './http/views.ts'
import { addInteractionRoutes } from './interactions/routes.ts'
import { SealedBox } from './keys/sealed-box.ts'
import { SecretStore } from './keys/secret-store.ts'
import { SigningKeyStore } from './keys/signing-keys.ts'
import type { AdapterPayload } from 'oidc-provider'
import { CLIENT_CACHE_SECONDS, sweepExpired } from './oidc/adapter.ts'
import { ClientStore } from './oidc/client-store.ts'
import { registerDemoClient } from './oidc/demo-client.ts'
import { addSectorRoute } from './oidc/sector-route.ts'
import { createProvider, pairwiseSubject, type AccountClaims } from './oidc/provider.ts'
import { TtlCache } from './util/ttl-cache.ts'
import { ProviderHost } from './oidc/provider-host.ts'
import { Metrics } from './ops/metrics.ts'
import { addOpsRoutes } from './ops/routes.ts'
import { systemClock, type Clock } from './util/clock.ts'
import { RateLimiter } from './util/rate-limiter.ts'
import { ReceiptSigner } from './signing/receipt.ts'
import { trustAnchors } from './signing/anchors.ts'
import { addSignatureRoutes } from './signing/routes.ts'
import { SigningService } from './signing/signing-service.ts'

export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface ContextOverrides {
  clock?: Clock
  logger?: Logger
  db?: Database
  /** The tables' owner, for migrations (tests running the server as a limited role, as DATABASE_OWNER_URL does). */
  migrationDb?: Database
  sms?: SmsGateway
  identity?: IdentityVerifier
  /** Outgoing requests of the provider (tests trust their own TLS CA). */
  fetch?: typeof globalThis.fetch
}

/**
 * Everything a running PostCert needs, built once from the config and passed down. Tests build
 * it with overrides (a fixed clock, a test database) instead of stubbing modules.
 */
export class AppContext {
  readonly config: ServerConfig
  readonly logger: Logger
  readonly clock: Clock
  readonly db: Database
  readonly box: SealedBox
  readonly secrets: SecretStore
  readonly signingKeys: SigningKeyStore
  readonly audit: AuditLog
  readonly ca: CaHierarchy
  readonly authority: CertificateAuthority
  /** What a certificate's logins opened ends with it (told by the CA; also the expiry job). */
  readonly certificateLogins: CertificateLogins
  /** Back-channel logouts owed to institutions, until delivered. */
  readonly logoutNotices: LogoutNotices
  readonly crl: CrlPublisher
  readonly ocsp: OcspResponder
  readonly limiter: RateLimiter
  /** Phone codes: the configured gateway, or the sandbox outbox outside production. */
  readonly sms: SmsGateway
  /** Identity documents: the configured provider, or the sandbox registry outside production. */
  readonly identity: IdentityVerifier
  #enrollment: EnrollmentService | undefined
  #login: LoginService | undefined
  #account: AccountService | undefined
  readonly #staticChecks = new StaticCheckCache()
  readonly metrics = new Metrics()
  readonly views = new Views(path.join(ROOT_DIR, 'views'))
  readonly #fetch: typeof globalThis.fetch | undefined
  #host: ProviderHost | undefined
  /** Whether this.db is the context's own connection (not a test's), so migrations may open another. */
  readonly #ownDb: boolean
  readonly #migrationDb: Database | undefined
  #timers: NodeJS.Timeout[] = []

  private constructor(config: ServerConfig, secrets: ServerSecrets, overrides: ContextOverrides) {
    this.config = config
    this.logger = overrides.logger ?? pino({ level: config.logLevel, base: { service: 'postcert' } })
    this.clock = overrides.clock ?? systemClock
    this.db = overrides.db ?? connectDatabase(config.database)
    this.#ownDb = !overrides.db
    this.#migrationDb = overrides.migrationDb
    this.box = new SealedBox(secrets.masterKey)
    this.secrets = new SecretStore(this.db, this.box)
    // A retired key stays published while anything it signed may still be checked: the longest
    // signed lifetime, plus the time other instances may keep signing before they reload.
    const retain = MAX_SIGNED_LIFETIME_SECONDS + config.keyRefreshSeconds + CLOCK_TOLERANCE_SECONDS
    this.signingKeys = new SigningKeyStore(this.db, this.box, this.clock, retain)
    this.audit = new AuditLog(this.clock)
    this.ca = new CaHierarchy(this.db, this.box, this.clock)
    this.logoutNotices = new LogoutNotices({ db: this.db, clock: this.clock, provider: () => this.host.provider, logger: this.logger })
    this.certificateLogins = new CertificateLogins({ db: this.db, clock: this.clock, notices: this.logoutNotices, logger: this.logger })
    this.authority = new CertificateAuthority({
      db: this.db, hierarchy: this.ca, clock: this.clock, audit: this.audit, listener: this.certificateLogins,
      settings: { issuer: config.issuer, validityDays: config.certValidityDays, renewalWindowDays: config.renewalWindowDays },
    })
    this.crl = new CrlPublisher(this.db, this.ca, this.clock, { minIntervalSeconds: config.crlMinIntervalSeconds, logger: this.logger })
    this.ocsp = new OcspResponder(this.db, this.ca, this.clock)
    this.limiter = new RateLimiter(this.db, this.clock)
    this.sms = overrides.sms ?? (config.smsGateway ? new HttpSmsGateway(config.smsGateway.url, config.smsGateway.token) : new SandboxSmsGateway(this.db, this.clock))
    this.#fetch = overrides.fetch
    this.identity = overrides.identity ?? (config.identityProvider ? new HttpIdentityVerifier(config.identityProvider.url, config.identityProvider.token) : new SandboxIdentityRegistry())
  }

  /** The enrollment journey; available after start() (it needs server secrets). */
  get enrollment(): EnrollmentService {
    if (!this.#enrollment) throw new Error('context not started')
    return this.#enrollment
  }

  /** Is this certificate (DER or serial) ours, valid at `at`, not revoked or suspended? */
  async judgeCertificate(input: Uint8Array | string, at: Date = this.clock.now()): Promise<Verdict> {
    return await judgeCertificate(this.db, this.ca, input, at, this.#staticChecks)
  }

  static create(config: ServerConfig, secrets: ServerSecrets, overrides: ContextOverrides = {}): AppContext {
    return new AppContext(config, secrets, overrides)
  }

  /** The provider and app; available after start(). */
  get host(): ProviderHost {
    if (!this.#host) throw new Error('context not started')
    return this.#host
  }

  /**
   * Applies pending migrations. On PostgreSQL they run on a connection of their own without the
   * request path's statement and query timeouts (a migration may take long; requests must not),
   * as DATABASE_OWNER_URL's role when it is set, which then grants the server's role (DATABASE_URL's)
   * what it needs and no more (migrator.ts).
   */
  async migrate(): Promise<MigrationReport> {
    const database = this.config.database
    const opened = !this.#migrationDb && this.#ownDb && database.kind === 'postgres'
      ? connectDatabase({ kind: 'postgres', url: database.ownerUrl ?? database.url }, MIGRATION_TIMEOUTS)
      : undefined
    const owner = this.#migrationDb ?? opened ?? this.db
    try {
      const separate = owner !== this.db && (this.#migrationDb !== undefined || (database.kind === 'postgres' && database.ownerUrl !== undefined))
      return await migrateToLatest(owner, migrations, { grantTo: separate ? await roleOf(this.db) : undefined })
    } finally {
      await opened?.destroy()
    }
  }

  /** Migrates, checks the master key, creates first-start keys, secrets and CA, builds the app. */
  async start(): Promise<void> {
    const { applied } = await this.migrate()
    if (applied.length) this.logger.info({ applied }, 'migrations applied')
    if (this.config.nodeEnv === 'production' && this.config.database.kind === 'postgres' && !this.config.database.ownerUrl) {
      this.logger.warn('DATABASE_OWNER_URL is unset: the server\'s role owns the tables, so whoever takes over the server can truncate the audit log and the signature archive (README, Database roles)')
    }
    await this.secrets.checkMasterKey()
    await this.signingKeys.ensure()
    await this.ca.ensure()
    const cookieKeys = await this.secrets.randomKeys('cookie-keys', 2)
    const [csrfKey] = await this.secrets.randomKeys('csrf-key', 1)
    const csrf = new Csrf(csrfKey!)
    const pairwiseSalt = (await this.secrets.randomKeys('pairwise-salt', 1))[0]!
    const [otpKey, ciKey] = [(await this.secrets.randomKeys('otp-key', 1))[0]!, (await this.secrets.randomKeys('ci-key', 1))[0]!]
    // Which passkeys are hardware-bound: read at start-up (a bad file stops it here).
    const passkeys = new PasskeyRegistrar(this.config.issuer, await loadAttestationTrust(this.config.attestation, this.clock.now(), this.logger), this.clock)
    this.#enrollment = new EnrollmentService({
      db: this.db, clock: this.clock, sms: this.sms, identity: this.identity, limiter: this.limiter,
      authority: this.authority, audit: this.audit,
      otpKey: Buffer.from(otpKey, 'base64url'), ciKey: Buffer.from(ciKey, 'base64url'),
      passkeys,
    })
    const https = this.config.publicUrl.protocol === 'https:'

    const router = new Router()
    addOpsRoutes(router, { db: this.db, metrics: this.metrics, publicDir: path.join(ROOT_DIR, 'public'), bundles: await buildBrowserBundles(ROOT_DIR) })
    addPkiRoutes(router, { hierarchy: this.ca, authority: this.authority, crl: this.crl, ocsp: this.ocsp })
    const login = new LoginService({ db: this.db, clock: this.clock, limiter: this.limiter, issuer: this.config.issuer, judge: (c, at) => this.judgeCertificate(c, at) })
    this.#login = login
    // Receipts are signed with the provider's active EC key, taken at every provider build (rotation).
    const receipts = new ReceiptSigner()
    const signing = new SigningService({
      db: this.db, clock: this.clock, issuer: this.config.issuer, judge: (c, at) => this.judgeCertificate(c, at), login,
      ocsp: this.ocsp, receipts, audit: this.audit,
      caChain: async () => {
        const ca = await this.ca.issuing()
        return [new Uint8Array(ca.certificate.rawData), new Uint8Array(ca.root.rawData)]
      },
    })
    addSectorRoute(router, { provider: () => this.host.provider, issuer: this.config.issuer })
    addSignatureRoutes(router, {
      db: this.db, provider: () => this.host.provider, limiter: this.limiter, issuer: this.config.issuer, judge: (serial) => this.judgeCertificate(serial),
      anchors: () => trustAnchors({ db: this.db, ca: this.ca, signingKeys: this.signingKeys }),
    })
    // The subject a client knows a subscriber by, as in its ID tokens: pairwise unless the client is registered for public subjects.
    const subjectFor = async (clientId: string, subscriberId: string) => {
      const client = await this.host.provider.Client.find(clientId)
      if (!client) throw new Error(`client ${clientId} vanished during its own request`)
      return client.subjectType === 'public' ? subscriberId : pairwiseSubject(pairwiseSalt, this.config.issuer, client, subscriberId)
    }
    const testSubscriber = this.config.testMode
      ? await TestSubscriber.ensure({ db: this.db, secrets: this.secrets, authority: this.authority, ca: this.ca, clock: this.clock, issuer: this.config.issuer })
      : undefined
    if (testSubscriber) this.logger.warn('test mode: a one-click test subscriber on the login page (never in production)')
    addInteractionRoutes(router, { provider: () => this.host.provider, views: this.views, csrf, login, audit: this.audit, issuer: this.config.issuer, testSubscriber,
      clock: this.clock, renewalWindowDays: this.config.renewalWindowDays, signing, subjectFor })
    addEnrollmentRoutes(router, {
      service: this.#enrollment, views: this.views, csrf, secureCookies: https,
      sandbox: this.sms.kind === 'sandbox' || this.identity.kind === 'sandbox',
      sandboxOutbox: this.sms instanceof SandboxSmsGateway ? this.sms : undefined, hierarchy: this.ca, authority: this.authority, clock: this.clock,
    })
    const account = new AccountService({
      db: this.db, clock: this.clock, authority: this.authority, audit: this.audit, provider: () => this.host.provider, notices: this.logoutNotices,
    })
    this.#account = account
    const issuance = new AccountIssuance({
      db: this.db, clock: this.clock, authority: this.authority, sms: this.sms, limiter: this.limiter, audit: this.audit,
      passkeys, otpKey: Buffer.from(otpKey, 'base64url'),
    })
    addAccountRoutes(router, {
      service: account, issuance, authority: this.authority, hierarchy: this.ca, provider: () => this.host.provider, views: this.views, csrf, issuer: this.config.issuer, secureCookies: https,
      loginCertificate: (ref) => login.loginCertificate(ref),
    })
    // One cache for every provider instance (they are rebuilt when signing keys rotate).
    const clientCache = new TtlCache<AdapterPayload>(CLIENT_CACHE_SECONDS)
    // A login reads the subscriber's claims three times within a second (login, token, userinfo).
    const subscribers = new TtlCache<AccountClaims>(SUBSCRIBER_CACHE_SECONDS)
    this.#host = new ProviderHost({
      keys: this.signingKeys,
      logger: this.logger,
      metrics: this.metrics,
      build: (jwks) => {
        receipts.use(jwks)
        return mountApp(
        createProvider({
          issuer: this.config.issuer, trustProxy: this.config.trustProxy, trustedProxyHops: this.config.trustedProxyHops, secureCookies: https,
          jwks, cookieKeys, views: this.views, db: this.db, box: this.box, clock: this.clock, pairwiseSalt, clientCache,
          allowPrivateNetworkFetch: this.config.nodeEnv !== 'production', production: this.config.nodeEnv === 'production',
          fetch: this.#fetch, firstPartyClients: [ACCOUNT_CLIENT_ID],
          rememberLoginCertificate: (ref, serial, clientId) => login.rememberLoginCertificate(ref, serial, clientId),
          loginCertificate: (ref) => login.loginCertificate(ref),
          loginPolicy: { loginReuseSeconds: this.config.loginReuseSeconds, loginClient: (ref) => login.loginClient(ref) },
          findSubscriber: async (id) => {
            const cached = subscribers.get(id)
            if (cached) return cached
            const s = await this.db.selectFrom('subscriber').select(['name', 'birthdate', 'phone_e164', 'ci']).where('id', '=', id).executeTakeFirst()
            if (!s) return undefined
            const claims = { name: s.name, birthdate: s.birthdate, phone_number: s.phone_e164, ci: s.ci }
            subscribers.set(id, claims)
            return claims
          },
        }),
        { logger: this.logger, metrics: this.metrics, views: this.views, router, trustProxy: this.config.trustProxy, issuer: this.config.issuer, https },
        )
      },
    })
    await this.#host.refresh()
    const clients = new ClientStore({ db: this.db, box: this.box, clock: this.clock }, this.#host.provider)
    await registerAccountClient(clients, this.config.issuer, this.logger)
    if (this.config.demoRelyingParty) {
      await registerDemoClient({
        store: clients,
        issuer: this.config.issuer, url: this.config.demoRelyingParty, dataDir: this.config.dataDir, logger: this.logger,
      })
    }
  }

  /** Background work: reload on key rotation, sweep expired rows, keep the CRL fresh. */
  startBackgroundJobs(): void {
    // Builds a new CRL only when the current one has aged (or a status changed): at least daily.
    this.#every(CRL_CHECK_SECONDS, 'crl refresh', () => this.crl.current())
    this.#every(this.config.keyRefreshSeconds, 'key refresh', () => this.host.refresh())
    // Logins of certificates that expired end like those of revoked ones; institutions are told.
    this.#every(LOGOUT_NOTICE_SECONDS, 'certificate logins', async () => {
      const expired = await this.certificateLogins.endExpired()
      const delivered = await this.logoutNotices.drain()
      if (expired || delivered) this.logger.info({ expired, delivered }, 'logins of expired certificates ended, back-channel logouts delivered')
    })
    // Text messages 30, 7 and 1 days before a certificate expires, each once across all instances.
    const reminders = new ExpiryReminders({ db: this.db, clock: this.clock, sms: this.sms, issuer: this.config.issuer, logger: this.logger })
    this.#every(EXPIRY_REMINDER_SECONDS, 'expiry reminders', async () => {
      const sent = await reminders.run()
      if (sent) this.logger.info({ sent }, 'expiry reminders sent')
    })
    this.#every(this.config.sweepIntervalSeconds, 'sweep', async () => {
      const deleted = await sweepExpired(this.db, this.clock, SWEEP_BATCH_SIZE) + await this.authority.sweepChallenges()
        + await this.enrollment.sweep() + await this.limiter.sweep() + (await this.#login?.sweep() ?? 0) + (await this.#account?.sweep() ?? 0)
      if (deleted) this.logger.info({ deleted }, 'expired rows swept')
    })
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
    await this.db.destroy()
  }

  #every(seconds: number, name: string, job: () => Promise<unknown>): void {
    let running = false
    const timer = setInterval(() => {
      if (running) return
      running = true
      job().catch((err) => {
        // The database being away is reported once per run, without a stack; anything else is a bug.
        if (err instanceof DatabaseUnavailableError) this.logger.warn({ cause: (err.cause as Error | undefined)?.message }, `${name} skipped: database unavailable`)
        else this.logger.error({ err }, `${name} failed`)
      }).finally(() => { running = false })
    }, seconds * 1000)
    timer.unref()
    this.#timers.push(timer)
  }
}
