// `postcert <command>`: the operator's tool. Reads the same environment as the server.
import fs from 'node:fs'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { REVOCATION_REASONS, type RevocationReason } from '../ca/constants.ts'
import { certificateNotFound } from '../ca/errors.ts'
import { importHierarchy } from '../ca/import.ts'
import { buildConfig } from '../config/config.ts'
import { readEnv } from '../config/env.ts'
import { loadSecrets } from '../config/secrets.ts'
import { AppContext, migrateDatabase, openVerifier } from '../context.ts'
import { connectDatabase } from '../db/connect.ts'
import { PostCertError } from '../errors/errors.ts'
import { createInitialAccessToken } from '../oidc/initial-access-token.ts'
import { describeStartupError } from '../util/startup-error.ts'
import { verifyCommand, VerifyUsageError } from './verify.ts'
import { asText } from '../util/text.ts'

const USAGE = `usage: postcert <command>

  migrate                          apply pending database migrations
  keys list                        list signing keys and their state
  keys rotate                      activate the pre-published key, retire the active one,
                                   and publish a new next key
  clients add --name NAME [options]
      --redirect-uri URI           (repeatable) exact redirect URI
      --post-logout-redirect-uri URI (repeatable)
      --grant-type TYPE            (repeatable) default: authorization_code + refresh_token
                                   with redirect URIs, client_credentials without
      --auth-method METHOD         client_secret_basic (default), client_secret_post,
                                   private_key_jwt, none
      --public                     a public client (PKCE, no secret)
      --scope "SCOPES"             restrict the scopes the client may ask for
      --client-id ID               choose the client_id (default: generated)
      --metadata JSON              other client metadata, e.g.
                                   '{"id_token_signed_response_alg":"RS256"}'
      --fapi                       under the FAPI 2.0 profile: PAR, DPoP and
                                   private_key_jwt (give "jwks" in --metadata)
      --ci                         release the connecting identifier (ci) to it
      --public-subject             let it have public subjects (subject_type public: the
                                   same sub at every such institution)
      --certificate-claim          release the certificate claim (serial, x5t#S256) to it
      --pkce-optional              let this confidential client omit PKCE (the OpenID
                                   certification plans send none)
  iat create [options]             an initial access token for dynamic registration
                                   (POST {issuer}/reg, RFC 7591); shown once
      --expires-in-days N          default 7
      --reusable                   may register several clients until it expires
                                   (default: spent by the first registration)
      --ci                         its clients may receive the connecting identifier
      --public-subject             its clients may register subject_type public
      --certificate-claim          its clients may receive the certificate claim
      --fapi                       its clients must register under FAPI 2.0
      --pkce-optional              its confidential clients may omit PKCE
  certificates show SERIAL         a subscriber certificate: holder, validity, status
  certificates revoke SERIAL --reason REASON
                                   revoke it (keyCompromise, cessationOfOperation,
                                   affiliationChanged, privilegeWithdrawn, unspecified):
                                   its logins, tokens and portal sessions end, and the
                                   institutions are told by back-channel logout
  certificates suspend SERIAL      suspend it (효력정지), with the same effect
  certificates resume SERIAL       lift a suspension; what it had opened stays ended
  ca show                          the root and issuing CA: subject, validity, fingerprint
  ca import --chain CHAIN.pem --key ISSUING-KEY.pem
                                   use your own issuing CA (signed by your root, whose key
                                   stays offline) instead of the generated one; only
                                   before any certificate is issued
  verify FILE [--json] [--ca CHAIN.pem --jwks JWKS.json]
                                   check signature evidence (a token response's
                                   authorization_details entry, or GET /signatures/{id}):
                                   exit 0 when valid at signing; with --ca and --jwks
                                   only those files are trusted (no database)
  clients list [--json]            registered clients
  clients show CLIENT_ID           one client's metadata (never its secret)
  clients remove CLIENT_ID         delete a client
`

class UsageError extends Error {}

async function run(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE)
    return
  }
  if (!['migrate', 'keys', 'clients', 'ca', 'verify', 'iat', 'certificates'].includes(command)) throw new UsageError(`unknown command: ${command}`)
  const env = readEnv()
  const config = buildConfig(env)
  const open = () => AppContext.fromConfig(config, loadSecrets(env, config), { logger: pino({ level: 'warn' }, pino.destination(2)) })
  if (command === 'verify') {
    const { values, positionals } = parseArgs({ args: argv.slice(1), strict: true, allowPositionals: true, options: { json: { type: 'boolean' }, ca: { type: 'string' }, jwks: { type: 'string' } } })
    if (positionals.length !== 1) throw new UsageError('verify: one evidence file expected')
    try {
      process.exitCode = await verifyCommand({ file: positionals[0]!, json: Boolean(values.json), caFile: values.ca, jwksFile: values.jwks }, () => openVerifier(config, loadSecrets(env, config)))
    } catch (err) {
      if (err instanceof VerifyUsageError) throw new UsageError(err.message)
      throw err
    }
    return
  }
  if (command === 'migrate') {
    const db = connectDatabase(config.database)
    try {
      const { applied, current } = await migrateDatabase(config, db, { ownDb: true })
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : `up to date (${current.length} migrations)\n`)
    } finally {
      await db.destroy()
    }
    return
  }
  const ctx = await open()
  try {
    if (command === 'keys') return await keys(ctx, sub)
    if (command === 'ca') return await ca(ctx, sub, rest)
    if (command === 'iat') return await initialAccessToken(ctx, sub, rest)
    if (command === 'certificates') return await certificates(ctx, sub, rest)
    return await clients(ctx, sub, rest)
  } finally {
    await ctx.close()
  }
}

async function keys(ctx: AppContext, sub: string | undefined): Promise<void> {
  if (sub === 'list') {
    const rows = (await ctx.signingKeys.list()).map((k) => ({
      kid: k.kid, kty: k.kty, state: k.state, created: iso(k.createdAt), activated: iso(k.activatedAt),
      retired: iso(k.retiredAt), published_until: iso(k.publishUntil),
    }))
    return print(rows)
  }
  if (sub === 'rotate') {
    const result = await ctx.signingKeys.rotate()
    process.stdout.write(`activated: ${result.activated.join(', ')}\nretired: ${result.retired.join(', ')}\npre-published: ${result.prepublished.join(', ')}\n`)
    process.stdout.write(`running instances switch within ${ctx.config.keyRefreshSeconds}s (KEY_REFRESH_SECONDS)\n`)
    return
  }
  throw new UsageError('keys: expected list or rotate')
}

async function ca(ctx: AppContext, sub: string | undefined, rest: string[]): Promise<void> {
  if (sub === 'show') {
    const rows = (await ctx.ca.summary()).map((c) => ({
      role: c.role, id: c.id, subject: c.subject, not_before: iso(c.notBefore), not_after: iso(c.notAfter),
      key: c.hasPrivateKey ? 'sealed' : 'offline', sha256: c.sha256Fingerprint,
    }))
    return print(rows)
  }
  if (sub === 'import') {
    const { values } = parseArgs({ args: rest, strict: true, options: { chain: { type: 'string' }, key: { type: 'string' } } })
    if (!values.chain || !values.key) throw new UsageError('ca import: --chain and --key are required')
    const read = (file: string) => {
      try {
        return fs.readFileSync(file, 'utf8')
      } catch (err) {
        throw new UsageError(`ca import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`)
      }
    }
    const result = await importHierarchy(ctx.db, ctx.box, { chainPem: read(values.chain), keyPem: read(values.key) })
    process.stdout.write(`imported: issuing CA ${result.issuingId}, root ${result.rootId}\nrestart running instances to use it\n`)
    return
  }
  throw new UsageError('ca: expected show or import')
}

/** The operator's certificate actions: through the CA, as the portal's, so the same logins end. */
async function certificates(ctx: AppContext, sub: string | undefined, rest: string[]): Promise<void> {
  if (!sub || !['show', 'revoke', 'suspend', 'resume'].includes(sub)) throw new UsageError('certificates: expected show, revoke, suspend or resume')
  const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { reason: { type: 'string' } } })
  const serial = positionals[0]
  if (positionals.length !== 1 || !/^[0-9a-fA-F]{1,40}$/.test(serial!)) throw new UsageError(`certificates ${sub}: one SERIAL (hex) expected`)
  if (sub === 'revoke' && !(REVOCATION_REASONS as readonly string[]).includes(values.reason ?? '')) {
    throw new UsageError(`certificates revoke: --reason must be one of ${REVOCATION_REASONS.filter((r) => r !== 'superseded').join(', ')}`)
  }
  if (sub === 'revoke' && values.reason === 'superseded') throw new UsageError('certificates revoke: superseded is for renewal and reissue')
  const record = sub === 'show' ? await ctx.authority.find(serial!)
    : sub === 'revoke' ? await ctx.authority.revoke(serial!, values.reason as RevocationReason)
      : sub === 'suspend' ? await ctx.authority.suspend(serial!) : await ctx.authority.resume(serial!)
  if (!record) throw certificateNotFound(serial!)
  print([{
    serial: record.serial, subscriber: record.subscriberId, holder: record.holder, not_after: iso(record.notAfter),
    status: record.status, reason: record.revocationReason ?? '-', changed: iso(record.revokedAt),
  }])
}

async function clients(ctx: AppContext, sub: string | undefined, rest: string[]): Promise<void> {
  const store = ctx.clients
  if (sub === 'add') {
    const { values } = parseArgs({
      args: rest, strict: true, allowPositionals: false,
      options: {
        name: { type: 'string' }, 'client-id': { type: 'string' }, public: { type: 'boolean' },
        'redirect-uri': { type: 'string', multiple: true }, 'post-logout-redirect-uri': { type: 'string', multiple: true },
        'grant-type': { type: 'string', multiple: true }, 'auth-method': { type: 'string' }, scope: { type: 'string' },
        metadata: { type: 'string' }, fapi: { type: 'boolean' }, ci: { type: 'boolean' }, 'pkce-optional': { type: 'boolean' },
        'public-subject': { type: 'boolean' }, 'certificate-claim': { type: 'boolean' },
      },
    })
    if (!values.name) throw new UsageError('clients add: --name is required')
    let metadata: Record<string, unknown> | undefined
    if (values.metadata) {
      try {
        metadata = JSON.parse(values.metadata) as Record<string, unknown>
      } catch {
        throw new UsageError('clients add: --metadata must be a JSON object')
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new UsageError('clients add: --metadata must be a JSON object')
    }
    const client = await store.add({
      name: values.name, clientId: values['client-id'], public: values.public,
      redirectUris: values['redirect-uri'], postLogoutRedirectUris: values['post-logout-redirect-uri'],
      grantTypes: values['grant-type'], authMethod: values['auth-method'], scope: values.scope, metadata,
      fapi: values.fapi, ci: values.ci, pkceOptional: values['pkce-optional'],
      publicSubject: values['public-subject'], certificateClaim: values['certificate-claim'],
    })
    process.stdout.write(JSON.stringify(client, null, 2) + '\n')
    if (client.client_secret) process.stderr.write('The client_secret is shown only now; store it safely.\n')
    return
  }
  if (sub === 'list') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } })
    const list = await store.list()
    if (values.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n')
    return print(list.map((c) => ({
      client_id: c.client_id, name: asText(c.client_name), auth: asText(c.token_endpoint_auth_method),
      grants: ((c.grant_types as string[] | undefined) ?? []).join(','),
    })))
  }
  if (sub === 'show' || sub === 'remove') {
    const id = rest[0]
    if (!id) throw new UsageError(`clients ${sub}: CLIENT_ID is required`)
    if (sub === 'show') return void process.stdout.write(JSON.stringify(await store.show(id), null, 2) + '\n')
    await store.remove(id)
    process.stdout.write(`removed ${id}\n`)
    return
  }
  throw new UsageError('clients: expected add, list, show or remove')
}

async function initialAccessToken(ctx: AppContext, sub: string | undefined, rest: string[]): Promise<void> {
  if (sub !== 'create') throw new UsageError('iat: expected create')
  const { values } = parseArgs({
    args: rest, strict: true,
    options: {
      'expires-in-days': { type: 'string' }, reusable: { type: 'boolean' }, ci: { type: 'boolean' }, fapi: { type: 'boolean' }, 'pkce-optional': { type: 'boolean' },
      'public-subject': { type: 'boolean' }, 'certificate-claim': { type: 'boolean' },
    },
  })
  const days = Number(values['expires-in-days'] ?? 7)
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new UsageError('iat create: --expires-in-days must be an integer from 1 to 365')
  const { token, expiresAt, policies } = await createInitialAccessToken(ctx.host.provider, {
    days, ci: values.ci, fapi: values.fapi, reusable: values.reusable, pkceOptional: values['pkce-optional'],
    publicSubject: values['public-subject'], certificateClaim: values['certificate-claim'],
  })
  process.stdout.write(`${JSON.stringify({
    initial_access_token: token, registration_endpoint: `${ctx.config.issuer}/reg`,
    expires_at: expiresAt.toISOString(), policies,
  }, null, 2)}\n`)
  process.stderr.write('The token is shown only now; give it to the institution over a secure channel.\n')
}

function print(rows: Record<string, string>[]): void {
  if (!rows.length) return void process.stdout.write('(none)\n')
  const cols = Object.keys(rows[0]!)
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: string[]) => cells.map((v, i) => v.padEnd(width[i]!)).join('  ').trimEnd() + '\n'
  process.stdout.write(line(cols) + rows.map((r) => line(cols.map((c) => r[c] ?? ''))).join(''))
}

const iso = (d: Date | null) => (d ? d.toISOString() : '-')

run(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`postcert: ${(err as Error).message}\n\n${USAGE}`)
      process.exit(2)
    }
    const message = err instanceof PostCertError && err.expose ? err.description : describeStartupError(err)
    process.stderr.write(`postcert: ${message}\n`)
    process.exit(1)
  },
)
