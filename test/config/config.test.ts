import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { buildConfig, ConfigError } from '../../src/config/config.ts'
import { readEnv } from '../../src/config/env.ts'
import { loadSecrets, parseMasterKey } from '../../src/config/secrets.ts'
import { childEnv, ROOT, SERVER_MAIN } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'

const KEY = 'q2Xf0n6yqG3dYc2mCq0m6l9cXH9jQm1dDqRkYkQ1f2s'
const PROD = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', PUBLIC_URL: 'https://id.example.kr', POSTCERT_MASTER_KEY: KEY, TRUST_PROXY: 'true' }

describe('configuration', () => {
  it('defaults to port 3000, a localhost issuer and the embedded database under ./.data', () => {
    const config = buildConfig({})
    assert.equal(config.port, 3000)
    assert.equal(config.issuer, 'http://localhost:3000')
    assert.equal(config.nodeEnv, 'development')
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: path.resolve('.data', 'pglite') })
    assert.equal(config.trustProxy, false)
    assert.equal(config.logLevel, 'info')
    assert.equal(config.certValidityDays, 365)
    assert.equal(config.renewalWindowDays, 30)
    assert.equal(config.loginReuseSeconds, 600)
    assert.equal(config.accessTokenSeconds, 600)
    assert.equal(config.sweepIntervalSeconds, 60)
    assert.equal(config.ocspValiditySeconds, 300)
    assert.equal(config.crlMinIntervalSeconds, 10)
    assert.equal(config.trustedProxyHops, 1)
    assert.deepEqual(config.attestation, { rootsFile: undefined, aaguids: [], mdsFile: undefined, mdsRootsFile: undefined })
  })

  it('derives the issuer from PORT and strips a trailing slash from PUBLIC_URL', () => {
    assert.equal(buildConfig({ PORT: '8080' }).issuer, 'http://localhost:8080')
    assert.equal(buildConfig({ PUBLIC_URL: 'https://id.example.kr/' }).issuer, 'https://id.example.kr')
    assert.equal(buildConfig({ PUBLIC_URL: 'https://example.kr/postcert' }).issuer, 'https://example.kr/postcert')
  })

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    assert.deepEqual(buildConfig({ DATABASE_URL: 'postgres://u@db/postcert' }).database, { kind: 'postgres', url: 'postgres://u@db/postcert', poolSize: 10 })
    assert.deepEqual(buildConfig({ DATABASE_URL: 'postgres://u@db/postcert', DATABASE_OWNER_URL: 'postgres://o@db/postcert', DATABASE_POOL_SIZE: '40' }).database,
      { kind: 'postgres', url: 'postgres://u@db/postcert', ownerUrl: 'postgres://o@db/postcert', poolSize: 40 })
    // A streaming replica for certificate status reads (#19).
    assert.deepEqual(buildConfig({ DATABASE_URL: 'postgres://u@db/postcert', DATABASE_READ_URL: 'postgres://u@replica/postcert' }).database,
      { kind: 'postgres', url: 'postgres://u@db/postcert', poolSize: 10, readUrl: 'postgres://u@replica/postcert' })
    // Resource servers: JWT or opaque client_credentials tokens (#19).
    assert.deepEqual(buildConfig({ RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/a","scope":"x y","clients":["c1"],"format":"jwt","ttl":300},{"resource":"https://api.bank.example/b","scope":"z","clients":["c2"]}]' }).resourceServers, [
      { resource: 'https://api.bank.example/a', scope: 'x y', clients: ['c1'], format: 'jwt', alg: 'ES256', ttl: 300 },
      { resource: 'https://api.bank.example/b', scope: 'z', clients: ['c2'], format: 'opaque', alg: 'ES256' },
    ])
    assert.deepEqual(buildConfig({}).resourceServers, [])
    // PostgreSQL itself for the connection that listens for cache changes, past a pooler (#19).
    assert.deepEqual(buildConfig({ DATABASE_URL: 'postgres://u@pgbouncer/postcert', DATABASE_LISTEN_URL: 'postgres://u@db/postcert' }).database,
      { kind: 'postgres', url: 'postgres://u@pgbouncer/postcert', poolSize: 10, listenUrl: 'postgres://u@db/postcert' })
  })

  it('treats empty variables as unset', () => {
    assert.deepEqual(readEnv({ PORT: '', DATABASE_URL: '  ', LOG_LEVEL: 'debug', OTHER: 'x' }), { LOG_LEVEL: 'debug' })
  })

  it('reads any setting from the file NAME_FILE names (Docker secrets), and refuses both forms, an unreadable or an empty file', () => {
    const dir = tempDir()
    const file = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text)
      return path.join(dir, name)
    }
    assert.deepEqual(readEnv({ POSTCERT_MASTER_KEY_FILE: file('key', `${KEY}\n`), PORT_FILE: file('port', '8080'), UNKNOWN_FILE: file('x', 'y') }),
      { POSTCERT_MASTER_KEY: KEY, PORT: '8080' })
    // An empty NAME_FILE counts as unset, like an empty NAME.
    assert.deepEqual(readEnv({ PORT_FILE: '', PORT: '81' }), { PORT: '81' })
    assert.throws(() => readEnv({ PORT: '81', PORT_FILE: file('port', '82') }), { name: 'ConfigError', message: 'PORT and PORT_FILE are both set: keep one' })
    assert.throws(() => readEnv({ SMS_GATEWAY_TOKEN_FILE: path.join(dir, 'missing') }), { name: 'ConfigError', message: /^SMS_GATEWAY_TOKEN_FILE cannot be read: ENOENT/ })
    assert.throws(() => readEnv({ SMS_GATEWAY_TOKEN_FILE: dir }), { name: 'ConfigError', message: /^SMS_GATEWAY_TOKEN_FILE cannot be read: EISDIR/ })
    assert.throws(() => readEnv({ SMS_GATEWAY_TOKEN_FILE: file('empty', ' \n') }), { name: 'ConfigError', message: /^SMS_GATEWAY_TOKEN_FILE names an empty file/ })
  })

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['a non-numeric port', { PORT: 'abc' }, /^PORT must be an integer/],
    ['a port out of range', { PORT: '70000' }, /^PORT must be at most 65535/],
    ['a pool of no connections', { DATABASE_URL: 'postgres://u@db/p', DATABASE_POOL_SIZE: '0' }, /^DATABASE_POOL_SIZE must be at least 1/],
    ['a token without its PIN', { PKCS11_LIBRARY: '/usr/lib/x.so', PKCS11_TOKEN_LABEL: 'ca' }, /^PKCS11_LIBRARY, PKCS11_TOKEN_LABEL and PKCS11_PIN go together/],
    ['a PKCS#11 module that is not there', { PKCS11_LIBRARY: '/nonexistent/libp11.so', PKCS11_TOKEN_LABEL: 'ca', PKCS11_PIN: '1234' }, /^PKCS11_LIBRARY names no file/],
    ['an admin listener on the public port', { PORT: '4000', ADMIN_PORT: '4000' }, /^ADMIN_PORT must differ from PORT/],
    ['a console address with a path', { ADMIN_URL: 'https://ops.example.kr/console' }, /^ADMIN_URL must be an origin/],
    ['a console over plain http elsewhere than this machine', { ADMIN_URL: 'http://ops.example.kr' }, /^ADMIN_URL must be https/],
    ['the console on the public site', { PUBLIC_URL: 'https://id.example.kr', ADMIN_URL: 'https://id.example.kr' }, /^ADMIN_URL must differ from PUBLIC_URL/],
    ['an admin port that is no port', { ADMIN_PORT: 'yes' }, /^ADMIN_PORT must be a port \(0 to 65535\) or off/],
    ['a relative PUBLIC_URL', { PUBLIC_URL: 'id.example.kr' }, /^PUBLIC_URL must be an absolute http\(s\) URL/],
    ['a PUBLIC_URL with a query', { PUBLIC_URL: 'https://id.example.kr/?x=1' }, /^PUBLIC_URL must not have a query/],
    ['a MySQL DATABASE_URL', { DATABASE_URL: 'mysql://x@y/z' }, /^DATABASE_URL must be a postgres/],
    ['an owner role without the server\'s', { DATABASE_OWNER_URL: 'postgres://owner@db/x' }, /^DATABASE_OWNER_URL needs DATABASE_URL/],
    ['a read replica without its database', { DATABASE_READ_URL: 'postgres://u@replica/x' }, /^DATABASE_READ_URL needs DATABASE_URL/],
    ['a read replica that is not PostgreSQL', { DATABASE_URL: 'postgres://u@db/x', DATABASE_READ_URL: 'http://replica/x' }, /^DATABASE_READ_URL must be a postgres/],
    ['a listening connection without its database', { DATABASE_LISTEN_URL: 'postgres://u@db/x' }, /^DATABASE_LISTEN_URL needs DATABASE_URL/],
    ['a listening connection that is not PostgreSQL', { DATABASE_URL: 'postgres://u@db/x', DATABASE_LISTEN_URL: 'redis://db/x' }, /^DATABASE_LISTEN_URL must be a postgres/],
    ['resource servers that are not JSON', { RESOURCE_SERVERS: 'https://api.bank.example' }, /^RESOURCE_SERVERS must be a JSON array of resource servers/],
    ['a resource server without clients', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":[]}]' }, /^RESOURCE_SERVERS \[0\]\.clients: clients must name at least one client_id/],
    ['a resource with a fragment', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/#x","scope":"a","clients":["c"]}]' }, /^RESOURCE_SERVERS \[0\]\.resource: resource must not have a fragment/],
    ['a resource server format PostCert does not make', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":["c"],"format":"paseto"}]' }, /^RESOURCE_SERVERS \[0\]\.format/],
    ['a JWT algorithm PostCert has no key for', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":["c"],"format":"jwt","alg":"HS256"}]' }, /^RESOURCE_SERVERS \[0\]\.alg/],
    ['a token lifetime past the hour', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":["c"],"ttl":7200}]' }, /^RESOURCE_SERVERS \[0\]\.ttl/],
    ['a scope with a quote', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a\\"b","clients":["c"]}]' }, /^RESOURCE_SERVERS \[0\]\.scope: scope must be space-separated scope tokens/],
    ['a resource server named twice', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":["c"]},{"resource":"https://api.bank.example/","scope":"b","clients":["c"]}]' }, /^RESOURCE_SERVERS names https:\/\/api\.bank\.example\/ twice/],
    ['a resource server on PostCert\'s own origin', { PUBLIC_URL: 'https://id.example.kr', RESOURCE_SERVERS: '[{"resource":"https://id.example.kr/signatures","scope":"a","clients":["c"]}]' }, /^RESOURCE_SERVERS must not name https:\/\/id\.example\.kr\/signatures/],
    ['an unknown key in a resource server', { RESOURCE_SERVERS: '[{"resource":"https://api.bank.example/","scope":"a","clients":["c"],"formt":"jwt"}]' }, /^RESOURCE_SERVERS/],
    ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, /^NODE_ENV must be development, test or production/],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    ['a TRUST_PROXY that is not a boolean', { TRUST_PROXY: 'maybe' }, /^TRUST_PROXY must be true or false/],
    ['production without PostgreSQL', { NODE_ENV: 'production', PUBLIC_URL: 'https://id.example.kr', POSTCERT_MASTER_KEY: KEY }, /^DATABASE_URL is required in production/],
    ['production over http', { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', POSTCERT_MASTER_KEY: KEY }, /^PUBLIC_URL must be https in production/],
    ['a renewal window as long as the validity', { CERT_VALIDITY_DAYS: '30', RENEWAL_WINDOW_DAYS: '30' }, /^RENEWAL_WINDOW_DAYS must be shorter than CERT_VALIDITY_DAYS/],
    ['a validity beyond 825 days', { CERT_VALIDITY_DAYS: '1000' }, /^CERT_VALIDITY_DAYS must be at most 825/],
    ['production without a master key', { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', PUBLIC_URL: 'https://id.example.kr' }, /^POSTCERT_MASTER_KEY is required in production/],
    ['production without a trusted TLS proxy', { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', PUBLIC_URL: 'https://id.example.kr', POSTCERT_MASTER_KEY: KEY }, /^TRUST_PROXY must be true in production/],
    ['production with the sandbox SMS outbox', { ...PROD, IDENTITY_PROVIDER_URL: 'https://idv.example.kr', IDENTITY_PROVIDER_TOKEN: 't' }, /^SMS_GATEWAY_URL is required in production/],
    ['production with the sandbox identity registry', { ...PROD, SMS_GATEWAY_URL: 'https://sms.example.kr', SMS_GATEWAY_TOKEN: 't' }, /^IDENTITY_PROVIDER_URL is required in production/],
    ['the demo relying party in production', { ...PROD, SMS_GATEWAY_URL: 'https://sms.example.kr', SMS_GATEWAY_TOKEN: 't', IDENTITY_PROVIDER_URL: 'https://idv.example.kr', IDENTITY_PROVIDER_TOKEN: 't', DEMO_RP_URL: 'http://localhost:4000' }, /^DEMO_RP_URL must not be set in production/],
    ['a DEMO_RP_URL that is not a URL', { DEMO_RP_URL: 'localhost:4000' }, /^DEMO_RP_URL must be an absolute http\(s\) URL or off/],
    ['several workers on the embedded database', { WEB_CONCURRENCY: '2' }, /^WEB_CONCURRENCY above 1 needs DATABASE_URL/],
    ['a WEB_CONCURRENCY of 0', { WEB_CONCURRENCY: '0' }, /^WEB_CONCURRENCY must be at least 1/],
    ['an SMS gateway without its token', { SMS_GATEWAY_URL: 'https://sms.example.kr' }, /^SMS_GATEWAY_TOKEN is required with SMS_GATEWAY_URL/],
    ['an identity provider without its token', { IDENTITY_PROVIDER_URL: 'https://idv.example.kr' }, /^IDENTITY_PROVIDER_TOKEN is required with IDENTITY_PROVIDER_URL/],
    ['no proxy hops', { TRUSTED_PROXY_HOPS: '0' }, /^TRUSTED_PROXY_HOPS must be at least 1/],
    ['a login reuse window past an hour', { LOGIN_REUSE_SECONDS: '3601' }, /^LOGIN_REUSE_SECONDS must be at most 3600/],
    ['access tokens outliving ID tokens', { ACCESS_TOKEN_SECONDS: '3601' }, /^ACCESS_TOKEN_SECONDS must be at most 3600/],
    ['OCSP answers valid past a day', { OCSP_VALIDITY_SECONDS: '86401' }, /^OCSP_VALIDITY_SECONDS must be at most 86400/],
    ['access tokens of seconds', { ACCESS_TOKEN_SECONDS: '30' }, /^ACCESS_TOKEN_SECONDS must be at least 60/],
    ['an AAGUID that is not one', { PASSKEY_AAGUIDS: 'ee882879-721c-4913-9775-3dfcce97072a, yubikey' }, /^PASSKEY_AAGUIDS must be AAGUIDs/],
    ['metadata roots without a metadata BLOB', { FIDO_MDS_ROOTS: '/etc/roots.pem' }, /^FIDO_MDS_ROOTS needs FIDO_MDS_FILE/],
  ]
  for (const [what, env, message] of refusals) {
    it(`refuses ${what}`, () => {
      assert.throws(() => buildConfig(env), (err: Error) => err instanceof ConfigError && message.test(err.message))
    })
  }

  it('registers the demo relying party by default in development only', () => {
    assert.equal(buildConfig({}).demoRelyingParty?.href, 'http://localhost:4000/')
    assert.equal(buildConfig({ DEMO_RP_URL: 'off' }).demoRelyingParty, undefined)
    assert.equal(buildConfig({ NODE_ENV: 'test' }).demoRelyingParty, undefined)
    assert.equal(buildConfig({ NODE_ENV: 'test', DEMO_RP_URL: 'http://localhost:4100' }).demoRelyingParty?.href, 'http://localhost:4100/')
  })

  it('accepts a complete production configuration', () => {
    const config = buildConfig({ ...PROD, SMS_GATEWAY_URL: 'https://sms.example.kr', SMS_GATEWAY_TOKEN: 's', IDENTITY_PROVIDER_URL: 'https://idv.example.kr', IDENTITY_PROVIDER_TOKEN: 'i' })
    assert.equal(config.trustProxy, true)
    assert.deepEqual(config.smsGateway, { url: 'https://sms.example.kr', token: 's' })
  })
})

describe('master key', () => {
  it('accepts 32 bytes as hex, base64 or base64url, and nothing shorter', () => {
    const bytes = Buffer.alloc(32, 7)
    assert.deepEqual(parseMasterKey(bytes.toString('hex')), bytes)
    assert.deepEqual(parseMasterKey(bytes.toString('base64')), bytes)
    assert.deepEqual(parseMasterKey(bytes.toString('base64url')), bytes)
    assert.throws(() => parseMasterKey(Buffer.alloc(16).toString('hex')), /32 random bytes/)
    assert.throws(() => parseMasterKey('correct horse battery staple'), /32 random bytes/)
  })

  it('is generated once into DATA_DIR outside production, readable only by its owner', () => {
    const dataDir = tempDir()
    const config = buildConfig({ DATA_DIR: dataDir })
    const first = loadSecrets({}, config)
    const second = loadSecrets({}, config)
    assert.equal(first.masterKey.length, 32)
    assert.deepEqual(second.masterKey, first.masterKey)
    assert.equal(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777, 0o600)
  })
})

describe('bad configuration at start-up', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, [SERVER_MAIN], { cwd: ROOT, env: childEnv({ DATA_DIR: tempDir(), ...env }), encoding: 'utf8', timeout: 30_000 })

  it('exits non-zero with a one-line reason', () => {
    const result = start({ PORT: 'abc' })
    assert.notEqual(result.status, 0)
    assert.equal(result.stderr, 'postcert: invalid configuration: PORT must be an integer between 0 and 65535\n')
    assert.equal(result.stdout, '')
  })

  it('exits 78 with one line when an attestation file is missing or holds no certificate', () => {
    const missing = start({ PASSKEY_ATTESTATION_ROOTS: '/nonexistent/roots.pem' })
    assert.equal(missing.status, 78)
    assert.equal(missing.stderr, 'postcert: invalid configuration: PASSKEY_ATTESTATION_ROOTS cannot be read: /nonexistent/roots.pem (ENOENT)\n')
    const empty = path.join(tempDir(), 'empty.pem')
    fs.writeFileSync(empty, 'no certificate here')
    const none = start({ PASSKEY_ATTESTATION_ROOTS: empty })
    assert.equal(none.stderr, `postcert: invalid configuration: PASSKEY_ATTESTATION_ROOTS ${empty} holds no PEM certificate\n`)
    const blob = path.join(tempDir(), 'blob.jwt')
    fs.writeFileSync(blob, 'not a blob')
    const bad = start({ FIDO_MDS_FILE: blob })
    assert.equal(bad.status, 78)
    assert.equal(bad.stderr, `postcert: invalid configuration: FIDO_MDS_FILE ${blob}: not a JWT\n`)
  })

  it('exits non-zero with one line when the database cannot be reached', () => {
    const result = start({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', POSTCERT_MASTER_KEY: KEY })
    assert.notEqual(result.status, 0)
    assert.match(result.stderr, /^postcert: cannot reach the database: .*ECONNREFUSED.*\n$/)
  })

  it('refuses a master key that does not match the database', async () => {
    const dataDir = tempDir()
    const init = spawnSync(process.execPath, [path.join(ROOT, 'bin/postcert.js'), 'keys', 'list'], { cwd: ROOT, env: childEnv({ DATA_DIR: dataDir, POSTCERT_MASTER_KEY: KEY }), encoding: 'utf8' })
    assert.equal(init.status, 0, init.stderr)
    const other = Buffer.alloc(32, 1).toString('base64url')
    const result = start({ DATA_DIR: dataDir, POSTCERT_MASTER_KEY: other })
    assert.notEqual(result.status, 0)
    assert.equal(result.stderr, 'postcert: POSTCERT_MASTER_KEY does not match the key this database was set up with\n')
  })
})
