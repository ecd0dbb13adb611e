// `postcert <command>`: the operator's tool. Reads the same environment as the server.
import fs from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { createLogger } from '../ops/logger.ts'
import { OPERATOR_REVOCATION_REASONS } from '../ca/constants.ts'
import { buildConfig } from '../config/config.ts'
import { readEnv } from '../config/env.ts'
import { loadSecrets } from '../config/secrets.ts'
import { AppContext, migrateDatabase, openVerifier } from '../context.ts'
import { connectDatabase } from '../db/connect.ts'
import { PostCertError } from '../errors/errors.ts'
import { describeStartupError } from '../util/startup-error.ts'
import { CONSOLE } from '../admin/auth.ts'
import { databaseCaller, serverCaller, type AdminCaller } from './admin-caller.ts'
import { verifyCommand, VerifyUsageError } from './verify.ts'
import { asText } from '../util/text.ts'

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options']
/** A command's parsed flags and positionals. */
interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/**
 * One operator command: its synopsis and help (its block of the usage), its flags and how many
 * positionals it takes (parsed strictly before anything is opened: an unknown flag does
 * nothing but exit 2), what it destroys (asked before it runs: --yes, or "yes" typed on a
 * terminal), and what it does with an open context.
 */
interface Command {
  synopsis: string
  help: string
  options?: Options
  positionals?: [min: number, max: number]
  destroys?: (args: Parsed) => string
  run: (args: Parsed, env: Environment) => Promise<void>
}

interface Environment {
  config: ReturnType<typeof buildConfig>
  /** The admin API's operations: through the running server, or on the database (admin-caller.ts). */
  withAdmin: <T>(fn: (admin: AdminCaller) => Promise<T>) => Promise<T>
  /** The whole context (migrations, keys, CA, provider): most commands need it. */
  withContext: <T>(fn: (ctx: AppContext) => Promise<T>) => Promise<T>
  openVerifier: () => ReturnType<typeof openVerifier>
}

const json = { json: { type: 'boolean' } } as const
/** The filters of the audit commands. */
const AUDIT_FILTERS = { type: { type: 'string' }, subscriber: { type: 'string' }, serial: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } as const

/** The flags named, as an admin API query (unset ones left out). */
const filters = (args: Parsed, names: string[]) =>
  Object.fromEntries(names.flatMap((n) => (typeof args.values[n] === 'string' ? [[n, args.values[n]]] : []))) as Record<string, string>

/** A certificate as the certificate commands print it. */
const certificateRow = (c: Record<string, string | null>) => ({
  serial: c.serial!, subscriber: c.subscriber_id!, holder: c.holder!, not_after: c.not_after!,
  status: c.status!, reason: c.revocation_reason ?? '-', changed: c.revoked_at ?? '-',
})

/** The one SERIAL (hex) a certificate command takes. */
const serialOf = (command: string, args: Parsed) => {
  const serial = args.positionals[0]!
  if (!/^[0-9a-fA-F]{1,40}$/.test(serial)) throw new UsageError(`${command}: one SERIAL (hex) expected`, command)
  return serial
}

const COMMANDS: Record<string, Command> = {
  'migrate': {
    synopsis: 'migrate', help: '  apply pending database migrations\n',
    run: async (_args, { config }) => {
      const db = connectDatabase(config.database)
      try {
        const { applied, current } = await migrateDatabase(config, db, { ownDb: true })
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : `up to date (${current.length} migrations)\n`)
      } finally {
        await db.destroy()
      }
    },
  },
  'keys list': {
    synopsis: 'keys list [--json]', help: '  list signing keys and their state\n', options: json,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { keys } = await admin.call('listKeys') as { keys: Record<string, string | null>[] }
      print(keys.map((k) => ({
        kid: k.kid!, kty: k.kty!, state: k.state!, created: k.created_at!, activated: k.activated_at ?? '-',
        retired: k.retired_at ?? '-', published_until: k.publish_until ?? '-',
      })), args)
    }),
  },
  'keys rotate': {
    synopsis: 'keys rotate [--yes]',
    help: '  activate the pre-published key, retire the active one, and publish a new next key\n',
    destroys: () => 'retires the active signing key (tokens it signed stay valid until they expire)',
    run: async (_args, { withAdmin }) => await withAdmin(async (admin) => {
      const result = await admin.call('rotateKeys') as { activated: string[]; retired: string[]; prepublished: string[]; switch_within_seconds: number }
      process.stdout.write(`activated: ${result.activated.join(', ')}\nretired: ${result.retired.join(', ')}\npre-published: ${result.prepublished.join(', ')}\n`)
      process.stdout.write(`running instances switch within ${result.switch_within_seconds}s (KEY_REFRESH_SECONDS)\n`)
    }),
  },
  'clients add': {
    synopsis: 'clients add --name NAME [options]',
    help: `  register a relying party (its client_secret is shown once)
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
      --admin                      an admin API client: client_credentials only, its tokens
                                   of scope admin call the admin API (ADMIN_PORT)
`,
    options: {
      name: { type: 'string' }, 'client-id': { type: 'string' }, public: { type: 'boolean' },
      'redirect-uri': { type: 'string', multiple: true }, 'post-logout-redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true }, 'auth-method': { type: 'string' }, scope: { type: 'string' },
      metadata: { type: 'string' }, fapi: { type: 'boolean' }, ci: { type: 'boolean' }, 'pkce-optional': { type: 'boolean' },
      'public-subject': { type: 'boolean' }, 'certificate-claim': { type: 'boolean' }, admin: { type: 'boolean' },
    },
    run: async (args, { withAdmin }) => await addClient(args, withAdmin),
  },
  'clients list': {
    synopsis: 'clients list [--json]', help: '  registered clients\n', options: json,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const list = (await admin.call('listClients') as { clients: Record<string, unknown>[] }).clients
      if (args.values.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n')
      print(list.map((c) => ({
        client_id: String(c.client_id), name: asText(c.client_name), auth: asText(c.token_endpoint_auth_method),
        grants: ((c.grant_types as string[] | undefined) ?? []).join(','),
      })), args)
    }),
  },
  'clients show': {
    synopsis: 'clients show CLIENT_ID', help: '  one client\'s metadata, as JSON (never its secret)\n', positionals: [1, 1],
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(JSON.stringify(await admin.call('showClient', { params: { clientId: args.positionals[0]! } }), null, 2) + '\n')
    }),
  },
  'clients remove': {
    synopsis: 'clients remove CLIENT_ID [--yes]', help: '  delete a client: its tokens stop working\n', positionals: [1, 1],
    destroys: (args) => `deletes the client ${args.positionals[0]}`,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      await admin.call('removeClient', { params: { clientId: args.positionals[0]! } })
      process.stdout.write(`removed ${args.positionals[0]}\n`)
    }),
  },
  'iat create': {
    synopsis: 'iat create [options]',
    help: `  an initial access token for dynamic registration (POST {issuer}/reg, RFC 7591); shown once
      --expires-in-days N          default 7
      --reusable                   may register several clients until it expires
                                   (default: spent by the first registration)
      --ci                         its clients may receive the connecting identifier
      --public-subject             its clients may register subject_type public
      --certificate-claim          its clients may receive the certificate claim
      --fapi                       its clients must register under FAPI 2.0
      --pkce-optional              its confidential clients may omit PKCE
`,
    options: {
      'expires-in-days': { type: 'string' }, reusable: { type: 'boolean' }, ci: { type: 'boolean' }, fapi: { type: 'boolean' }, 'pkce-optional': { type: 'boolean' },
      'public-subject': { type: 'boolean' }, 'certificate-claim': { type: 'boolean' },
    },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => await initialAccessToken(admin, args)),
  },
  'clients rotate-secret': {
    synopsis: 'clients rotate-secret CLIENT_ID [--yes]', help: '  a new client_secret, shown once; the old one stops working (running servers within 10 s)\n', positionals: [1, 1],
    destroys: (args) => `replaces the client_secret of ${args.positionals[0]} (the institution must switch to the new one)`,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(`${JSON.stringify(await admin.call('rotateClientSecret', { params: { clientId: args.positionals[0]! } }), null, 2)}\n`)
      process.stderr.write('The client_secret is shown only now; store it safely.\n')
    }),
  },
  'certificates search': {
    synopsis: 'certificates search [--subscriber ID] [--status good|suspended|revoked] [--limit N] [--json]',
    help: '  certificates by subscriber and status, in serial order (the first N, default 100)\n',
    options: { subscriber: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' }, ...json },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { certificates } = await admin.call('searchCertificates', { query: filters(args, ['subscriber', 'status', 'limit']) }) as { certificates: Record<string, string | null>[] }
      print(certificates.map(certificateRow), args)
    }),
  },
  'certificates show': {
    synopsis: 'certificates show SERIAL [--json]', help: '  a subscriber certificate: holder, validity, status\n', options: json, positionals: [1, 1],
    run: async (args, env) => await certificateAction('show', args, env),
  },
  'certificates revoke': {
    synopsis: 'certificates revoke SERIAL --reason REASON [--yes]',
    help: `  revoke it (keyCompromise, cessationOfOperation, affiliationChanged, privilegeWithdrawn,
  unspecified): its logins, tokens and portal sessions end, and the institutions are told
  by back-channel logout
`,
    options: { reason: { type: 'string' }, ...json }, positionals: [1, 1],
    destroys: (args) => `revokes the certificate ${args.positionals[0]} for good`,
    run: async (args, env) => await certificateAction('revoke', args, env),
  },
  'certificates suspend': {
    synopsis: 'certificates suspend SERIAL [--yes]', help: '  suspend it (효력정지), with the same effect until it is resumed\n', options: json, positionals: [1, 1],
    destroys: (args) => `suspends the certificate ${args.positionals[0]} and ends what it opened`,
    run: async (args, env) => await certificateAction('suspend', args, env),
  },
  'certificates resume': {
    synopsis: 'certificates resume SERIAL', help: '  lift a suspension; what it had opened stays ended\n', options: json, positionals: [1, 1],
    run: async (args, env) => await certificateAction('resume', args, env),
  },
  'subscribers find': {
    synopsis: 'subscribers find --phone NUMBER [--json]', help: '  subscribers with this mobile number (the read is in their activity)\n',
    options: { phone: { type: 'string' }, ...json },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      if (!args.values.phone) throw new UsageError('subscribers find: --phone is required', 'subscribers find')
      const { subscribers } = await admin.call('findSubscribers', { query: { phone: String(args.values.phone) } }) as { subscribers: Record<string, string>[] }
      print(subscribers.map((x) => ({ id: x.id!, name: x.name!, birthdate: x.birthdate!, phone: x.phone!, since: x.created_at! })), args)
    }),
  },
  'subscribers show': {
    synopsis: 'subscribers show ID', help: '  a subscriber with certificates, registrations and latest activity, as JSON (the read is in their activity)\n', positionals: [1, 1],
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(`${JSON.stringify(await admin.call('showSubscriber', { params: { subscriberId: args.positionals[0]! } }), null, 2)}\n`)
    }),
  },
  'audit query': {
    synopsis: 'audit query [--type T] [--subscriber ID] [--serial S] [--from ISO] [--to ISO] [--limit N] [--json]',
    help: '  audit events, newest first (the first N, default 100)\n',
    options: { ...AUDIT_FILTERS, limit: { type: 'string' }, ...json },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { events } = await admin.call('queryAudit', { query: filters(args, [...Object.keys(AUDIT_FILTERS), 'limit']) }) as { events: { id: number; occurred_at: string; type: string; subscriber_id: string | null; certificate_serial: string | null; data: Record<string, unknown> }[] }
      if (args.values.json) return void process.stdout.write(`${JSON.stringify(events, null, 2)}\n`)
      print(events.map((e) => ({ id: String(e.id), at: e.occurred_at, type: e.type, subscriber: e.subscriber_id ?? '-', serial: e.certificate_serial ?? '-', actor: typeof e.data.actor === 'string' ? e.data.actor : '-' })), args)
    }),
  },
  'audit export': {
    synopsis: 'audit export [--type T] [--subscriber ID] [--serial S] [--from ISO] [--to ISO]',
    help: '  audit events as JSON lines on stdout, oldest first, the last line signed with the receipt key\n  (its count and SHA-256 of the lines before it); the export is itself audited\n',
    options: AUDIT_FILTERS,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(String(await admin.call('exportAudit', { query: filters(args, Object.keys(AUDIT_FILTERS)) })))
    }),
  },
  'operators list': {
    synopsis: 'operators list [--json]', help: '  the people who sign in to the operator console with a passkey\n', options: json,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { operators } = await admin.call('listOperators') as { operators: Record<string, string | number | null>[] }
      if (args.values.json) return void process.stdout.write(`${JSON.stringify(operators, null, 2)}\n`)
      print(operators.map((o) => ({
        name: String(o.name), passkeys: String(o.passkeys), last_sign_in: String(o.last_sign_in_at ?? '-'),
        state: o.disabled_at ? `disabled ${String(o.disabled_at)}` : o.invitation_expires_at ? `invited until ${String(o.invitation_expires_at)}` : 'active',
      })), args)
    }),
  },
  'operators invite': {
    synopsis: 'operators invite NAME [--json]',
    help: `  invite a person to the operator console: prints a link (single use, valid 24 hours) where they
  register their passkey; give it to them only. Again for one who has not registered yet: a new link.
  The console is at ADMIN_URL (default http://localhost:ADMIN_PORT; from elsewhere, an SSH tunnel)
`,
    options: json, positionals: [1, 1],
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const invited = await admin.call('inviteOperator', { body: { name: args.positionals[0]! } }) as { name: string; invitation_url: string; expires_at: string }
      if (args.values.json) return void process.stdout.write(`${JSON.stringify(invited, null, 2)}\n`)
      process.stdout.write(`${invited.invitation_url}\n(for ${invited.name}, until ${invited.expires_at}; works once)\n`)
    }),
  },
  'operators disable': {
    synopsis: 'operators disable NAME [--yes]', help: '  their passkey no longer signs in; their console sessions end now\n', positionals: [1, 1],
    destroys: (args) => `disables the operator ${args.positionals[0]} for good (a new name must be invited)`,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(`${JSON.stringify(await admin.call('disableOperator', { params: { name: args.positionals[0]! } }), null, 2)}\n`)
    }),
  },
  'approvals list': {
    synopsis: 'approvals list [--status pending|executing|executed|rejected|expired] [--json]', help: '  dual-control requests, newest first\n',
    options: { status: { type: 'string' }, ...json },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { approvals } = await admin.call('listApprovals', { query: filters(args, ['status']) }) as { approvals: Record<string, unknown>[] }
      if (args.values.json) return void process.stdout.write(`${JSON.stringify(approvals, null, 2)}\n`)
      print(approvals.map((a) => ({ id: String(a.id), action: String(a.action), status: String(a.status), requested_by: String(a.requested_by), expires: String(a.expires_at), params: JSON.stringify(a.params) })), args)
    }),
  },
  'approvals revoke': {
    synopsis: 'approvals revoke (--serial SERIAL ... | --subscriber ID) --reason REASON',
    help: '  ask for a bulk revocation; it runs when another operator approves it (dual control)\n',
    options: { serial: { type: 'string', multiple: true }, subscriber: { type: 'string' }, reason: { type: 'string' } },
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { serial, subscriber, reason } = args.values as { serial?: string[]; subscriber?: string; reason?: string }
      if (!reason) throw new UsageError('approvals revoke: --reason is required', 'approvals revoke')
      const params = { ...(serial ? { serials: serial } : {}), ...(subscriber ? { subscriber } : {}), reason }
      process.stdout.write(`${JSON.stringify(await admin.call('requestApproval', { body: { action: 'revokeCertificates', params } }), null, 2)}\n`)
    }),
  },
  'approvals approve': {
    synopsis: 'approvals approve ID [--yes]', help: '  approve another operator\'s request: it runs now\n', positionals: [1, 1],
    destroys: (args) => `runs the request ${args.positionals[0]} (see approvals list)`,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(`${JSON.stringify(await admin.call('approveApproval', { params: { approvalId: args.positionals[0]! } }), null, 2)}\n`)
    }),
  },
  'approvals reject': {
    synopsis: 'approvals reject ID', help: '  reject a pending request (or withdraw your own)\n', positionals: [1, 1],
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      process.stdout.write(`${JSON.stringify(await admin.call('rejectApproval', { params: { approvalId: args.positionals[0]! } }), null, 2)}\n`)
    }),
  },
  'secrets rewrap': {
    synopsis: 'secrets rewrap [--json] [--yes]',
    help: `  after a master key rotation (the new key in POSTCERT_MASTER_KEY, the old one in
  POSTCERT_PREVIOUS_MASTER_KEYS, running servers restarted with both): re-seal every private
  key and secret with the new key; then the old one can be dropped
`,
    options: json,
    destroys: () => 're-seals every private key and secret with POSTCERT_MASTER_KEY: its backup must be in place first (docs/operations.md)',
    run: async (args, { withContext }) => await withContext(async (ctx) => {
      const counts = await ctx.rewrapSecrets()
      await ctx.audit.record(ctx.db, { type: 'operator.master_key_rewrapped', data: { actor: CONSOLE.id, master_key: ctx.box.keyId, counts } })
      print(counts.map((c) => ({ table: c.table, rewrapped: String(c.rewrapped), sealed_values: String(c.total), remaining: String(c.remaining) })), args)
      const remaining = counts.reduce((n, c) => n + c.remaining, 0)
      // Values sealed meanwhile under another key: an instance still seals with it, and dropping it would lose them.
      if (remaining) throw new Error(`${remaining} sealed values are still under an older master key: restart every instance with the new POSTCERT_MASTER_KEY, then run postcert secrets rewrap again; keep POSTCERT_PREVIOUS_MASTER_KEYS until it reports none`)
      if (!args.values.json) process.stdout.write(`every sealed value is now under master key ${ctx.box.keyId}: POSTCERT_PREVIOUS_MASTER_KEYS can be emptied\n`)
    }),
  },
  'ca show': {
    synopsis: 'ca show [--json]', help: '  the root and issuing CA: subject, validity, fingerprint\n', options: json,
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => {
      const { certificates } = await admin.call('showCa') as { certificates: Record<string, string>[] }
      print(certificates.map((c) => ({
        role: c.role!, id: c.id!, subject: c.subject!, not_before: c.not_before!, not_after: c.not_after!, key: c.key!, sha256: c.sha256!,
      })), args)
    }),
  },
  'ca import': {
    synopsis: 'ca import --chain CHAIN.pem (--key ISSUING-KEY.pem | --pkcs11-key LABEL) [--yes]',
    help: `  use your own issuing CA (signed by your root, whose key stays offline) instead of the
  generated one; only before any certificate is issued. --key seals its PEM key into the
  database; --pkcs11-key names its key on the PKCS#11 token of PKCS11_* (an HSM), which keeps it.
  Checked now, made when a second operator approves it (dual control: the console, or an admin
  API client's POST /approvals/{id}/approve)
`,
    options: { chain: { type: 'string' }, key: { type: 'string' }, 'pkcs11-key': { type: 'string' } },
    destroys: () => 'asks to replace the generated CA; it is replaced when another operator approves (dual control)',
    run: async (args, { withAdmin }) => await withAdmin(async (admin) => await importCa(admin, args)),
  },
  'verify': {
    synopsis: 'verify FILE [--json] [--ca CHAIN.pem --jwks JWKS.json]',
    help: `  check signature evidence (a token response's authorization_details entry, or
  GET /signatures/{id}): exit 0 when valid at signing; with --ca and --jwks only those
  files are trusted (no database)
`,
    options: { ...json, ca: { type: 'string' }, jwks: { type: 'string' } }, positionals: [0, Infinity],
    run: async (args, env) => {
      if (args.positionals.length !== 1) throw new UsageError('verify: one evidence file expected')
      try {
        process.exitCode = await verifyCommand({ file: args.positionals[0]!, json: Boolean(args.values.json), caFile: args.values.ca as string | undefined, jwksFile: args.values.jwks as string | undefined }, env.openVerifier)
      } catch (err) {
        if (err instanceof VerifyUsageError) throw new UsageError(err.message)
        throw err
      }
    },
  },
}
/** The commands of a group, for "keys: expected list or rotate". */
const GROUPS = [...new Set(Object.keys(COMMANDS).filter((n) => n.includes(' ')).map((n) => n.split(' ')[0]!))]

const commandHelp = (name: string) => `usage: postcert ${COMMANDS[name]!.synopsis}\n${COMMANDS[name]!.help}`
const USAGE = `usage: postcert <command> [--help]

${Object.values(COMMANDS).map((c) => `  ${c.synopsis}\n${c.help.replace(/^(?=.)/gm, '  ')}`).join('')}  help COMMAND
    that command's usage

Destructive commands ask first: --yes, or "yes" typed on a terminal.
`

/** A mistake in how the command was called: its usage is printed (exit 2). `command` names its own usage. */
class UsageError extends Error {
  readonly command: string | undefined

  constructor(message: string, command?: string) {
    super(message)
    this.command = command
  }
}

/** The command `argv` names (one or two words), and the rest of its arguments. */
function resolve(argv: string[]): { name: string; rest: string[] } {
  const [first, second, ...rest] = argv
  if (first && second !== undefined && COMMANDS[`${first} ${second}`]) return { name: `${first} ${second}`, rest }
  if (first && COMMANDS[first]) return { name: first, rest: argv.slice(1) }
  if (first && GROUPS.includes(first)) {
    const subs = Object.keys(COMMANDS).filter((n) => n.startsWith(`${first} `)).map((n) => n.split(' ')[1]!)
    throw new UsageError(`${first}: expected ${subs.slice(0, -1).join(', ')}${subs.length > 1 ? ' or ' : ''}${subs.at(-1)}`)
  }
  throw new UsageError(`unknown command: ${first}`)
}

/** Parses strictly: unknown flags and extra positionals are usage errors, before anything runs. */
function parse(name: string, command: Command, args: string[]): Parsed & { help: boolean; yes: boolean } {
  let parsed
  try {
    parsed = parseArgs({
      args, strict: true, allowPositionals: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, ...(command.destroys ? { yes: { type: 'boolean', short: 'y' } } : {}) },
    })
  } catch (err) {
    const code = (err as { code?: string }).code
    const option = /'([^']+)'/.exec((err as Error).message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`${name}: unknown option '${option}'`, name)
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${name}: ${(err as Error).message}`, name)
    throw err
  }
  const { help = false, yes = false, ...values } = parsed.values as Record<string, string | boolean | string[] | undefined> & { help?: boolean; yes?: boolean }
  const [min, max] = command.positionals ?? [0, 0]
  if (!help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    const expected = command.synopsis.split(' ').slice(name.split(' ').length, name.split(' ').length + max).join(' ')
    throw new UsageError(max === 0 ? `${name}: takes no argument (${parsed.positionals.join(' ')})` : `${name}: ${expected} expected`, name)
  }
  return { values, positionals: parsed.positionals, help, yes }
}

/** A destructive command goes on with --yes, or "yes" typed on a terminal; else nothing happens. */
async function confirm(name: string, what: string, yes: boolean): Promise<void> {
  if (yes) return
  if (!process.stdin.isTTY) throw new UsageError(`${name} ${what}: add --yes to go on`, name)
  const readline = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await readline.question(`postcert ${name} ${what}. Type yes to go on: `)
    if (answer.trim() !== 'yes') throw new Cancelled(`${name}: cancelled, nothing was changed`)
  } finally {
    readline.close()
  }
}

class Cancelled extends Error {}

async function run(argv: string[]): Promise<void> {
  if (!argv.length || argv[0] === '--help' || argv[0] === '-h' || (argv[0] === 'help' && argv.length === 1)) {
    process.stdout.write(USAGE)
    return
  }
  if (argv[0] === 'help') return void process.stdout.write(commandHelp(resolve(argv.slice(1)).name))
  const { name, rest } = resolve(argv)
  const command = COMMANDS[name]!
  const args = parse(name, command, rest)
  if (args.help) return void process.stdout.write(commandHelp(name))
  if (command.destroys) await confirm(name, command.destroys(args), args.yes)
  const env = readEnv()
  const config = buildConfig(env)
  const withContext: Environment['withContext'] = async (fn) => {
    const ctx = await AppContext.fromConfig(config, loadSecrets(env, config), { logger: createLogger('warn', {}, pino.destination(2)), tool: true })
    try {
      return await fn(ctx)
    } finally {
      await ctx.close()
    }
  }
  await command.run(args, {
    config,
    openVerifier: () => openVerifier(config, loadSecrets(env, config)),
    withContext,
    withAdmin: async (fn) => {
      const server = config.admin ? await serverCaller(config.dataDir) : undefined
      if (server) return await fn(server)
      return await withContext(async (ctx) => await fn(databaseCaller(ctx)))
    },
  })
}

async function importCa(admin: AdminCaller, args: Parsed): Promise<void> {
  const { chain, key, 'pkcs11-key': tokenKeyLabel } = args.values as { chain?: string; key?: string; 'pkcs11-key'?: string }
  if (!chain || (key === undefined) === (tokenKeyLabel === undefined)) throw new UsageError('ca import: --chain and one of --key or --pkcs11-key are required', 'ca import')
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8')
    } catch (err) {
      throw new UsageError(`ca import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, 'ca import')
    }
  }
  const params = { chain_pem: read(chain), ...(key !== undefined ? { key_pem: read(key) } : { pkcs11_key: tokenKeyLabel! }) }
  const asked = await admin.call('requestApproval', { body: { action: 'importCa', params } }) as { id: string; params: { issuing_subject: string; issuing_sha256: string }; expires_at: string }
  process.stdout.write(`checked: issuing CA ${asked.params.issuing_subject} (SHA-256 ${asked.params.issuing_sha256})
asked as ${asked.id}: another operator approves it (at the console, or an admin API client) by ${asked.expires_at};
then restart running instances to use it
`)
}

/** The operator's certificate actions: through the CA, as the portal's, so the same logins end. */
async function certificateAction(action: 'show' | 'revoke' | 'suspend' | 'resume', args: Parsed, env: Environment): Promise<void> {
  const name = `certificates ${action}`
  const serial = serialOf(name, args)
  const reason = args.values.reason as string | undefined
  if (action === 'revoke' && !(OPERATOR_REVOCATION_REASONS as readonly string[]).includes(reason ?? '')) {
    throw new UsageError(reason === 'superseded' ? `${name}: superseded is for renewal and reissue` : `${name}: --reason must be one of ${OPERATOR_REVOCATION_REASONS.join(', ')}`, name)
  }
  const operation = { show: 'showCertificate', revoke: 'revokeCertificate', suspend: 'suspendCertificate', resume: 'resumeCertificate' }[action]
  await env.withAdmin(async (admin) => {
    const c = await admin.call(operation, { params: { serial }, ...(action === 'revoke' ? { body: { reason: reason! } } : {}) }) as Record<string, string | null>
    print([certificateRow(c)], args)
  })
}

async function addClient(args: Parsed, withAdmin: Environment['withAdmin']): Promise<void> {
  const values = args.values as Record<string, string | boolean | string[] | undefined> & { name?: string; metadata?: string }
  if (!values.name) throw new UsageError('clients add: --name is required', 'clients add')
  let metadata: Record<string, unknown> | undefined
  if (values.metadata) {
    try {
      metadata = JSON.parse(values.metadata) as Record<string, unknown>
    } catch {
      throw new UsageError('clients add: --metadata must be a JSON object', 'clients add')
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new UsageError('clients add: --metadata must be a JSON object', 'clients add')
  }
  const text = (key: string) => values[key] as string | undefined
  const list = (key: string) => values[key] as string[] | undefined
  const flag = (key: string) => values[key] === true ? true : undefined
  if (flag('public') && text('auth-method') && text('auth-method') !== 'none') throw new UsageError('clients add: a public client authenticates with "none"', 'clients add')
  const body = Object.fromEntries(Object.entries({
    client_name: values.name, client_id: text('client-id'), redirect_uris: list('redirect-uri'), post_logout_redirect_uris: list('post-logout-redirect-uri'),
    grant_types: list('grant-type'), token_endpoint_auth_method: flag('public') ? 'none' : text('auth-method'), scope: text('scope'), metadata,
    fapi: flag('fapi'), ci: flag('ci'), pkce_optional: flag('pkce-optional'), public_subject: flag('public-subject'),
    certificate_claim: flag('certificate-claim'), admin: flag('admin'),
  }).filter(([, v]) => v !== undefined))
  await withAdmin(async (admin) => {
    const client = await admin.call('addClient', { body }) as Record<string, unknown>
    process.stdout.write(JSON.stringify(client, null, 2) + '\n')
    if (client.client_secret) process.stderr.write('The client_secret is shown only now; store it safely.\n')
  })
}

async function initialAccessToken(admin: AdminCaller, args: Parsed): Promise<void> {
  const values = args.values as Record<string, string | boolean | undefined>
  const flag = (key: string) => values[key] === true ? true : undefined
  const days = Number(values['expires-in-days'] ?? 7)
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new UsageError('iat create: --expires-in-days must be an integer from 1 to 365', 'iat create')
  const body = Object.fromEntries(Object.entries({
    expires_in_days: days, ci: flag('ci'), fapi: flag('fapi'), reusable: flag('reusable'), pkce_optional: flag('pkce-optional'),
    public_subject: flag('public-subject'), certificate_claim: flag('certificate-claim'),
  }).filter(([, v]) => v !== undefined))
  // The registration endpoint is the server's (its issuer), whatever this shell's settings say.
  const created = await admin.call('createInitialAccessToken', { body }) as { token: string; registration_endpoint: string; expires_at: string; policies: string[] }
  process.stdout.write(`${JSON.stringify({
    initial_access_token: created.token, registration_endpoint: created.registration_endpoint,
    expires_at: created.expires_at, policies: created.policies,
  }, null, 2)}\n`)
  process.stderr.write('The token is shown only now; give it to the institution over a secure channel.\n')
}

/** Rows as JSON with --json, else as a table whose columns line up on a terminal (a Hangul syllable is two columns wide). */
function print(rows: Record<string, string>[], args: Parsed): void {
  if (args.values.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n')
  if (!rows.length) return void process.stdout.write('(none)\n')
  const cols = Object.keys(rows[0]!)
  const width = cols.map((c) => Math.max(displayWidth(c), ...rows.map((r) => displayWidth(r[c] ?? ''))))
  const line = (cells: string[]) => cells.map((v, i) => v + ' '.repeat(width[i]! - displayWidth(v))).join('  ').trimEnd() + '\n'
  process.stdout.write(line(cols) + rows.map((r) => line(cols.map((c) => r[c] ?? ''))).join(''))
}

/** East Asian wide and fullwidth characters (Hangul, CJK, fullwidth forms) take two terminal columns. */
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u
const displayWidth = (text: string) => [...text].reduce((n, c) => n + (WIDE.test(c) ? 2 : 1), 0)

run(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`postcert: ${err.message}\n\n${err.command ? commandHelp(err.command) : USAGE}`)
      process.exit(2)
    }
    const message = err instanceof PostCertError && err.expose ? err.description : err instanceof Cancelled ? err.message : describeStartupError(err)
    process.stderr.write(`postcert: ${message}\n`)
    process.exit(1)
  },
)
