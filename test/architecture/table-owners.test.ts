import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT_DIR } from '../../src/context.ts'

/**
 * Each table is written by exactly one module (README, Code map): the folder (or file) that owns
 * it. Anyone may read a table; a write from anywhere else goes through the owner's store. A new
 * table needs a line here (the test fails until it has one).
 */
const OWNERS: Record<string, string> = {
  account_session: 'src/sessions/',
  audit_event: 'src/audit/',
  ca_certificate: 'src/ca/',
  ca_challenge: 'src/ca/',
  certificate: 'src/ca/',
  certificate_status_version: 'src/ca/',
  crl: 'src/ca/',
  daily_tally: 'src/ops/daily-tally.ts',
  enrollment: 'src/enrollment/',
  expiry_reminder: 'src/account/expiry-reminders.ts',
  login_challenge: 'src/possession/proofs.ts',
  login_session: 'src/sessions/',
  logout_notice: 'src/oidc/logout-notices.ts',
  oidc_payload: 'src/oidc/adapter.ts',
  operator: 'src/admin/operators.ts',
  operator_approval: 'src/admin/approvals.ts',
  operator_challenge: 'src/admin/operators.ts',
  operator_passkey: 'src/admin/operators.ts',
  operator_session: 'src/admin/operators.ts',
  postcert_migration: 'src/db/migrator.ts',
  rate_limit: 'src/util/rate-limiter.ts',
  receipt_key: 'src/signing/',
  registration: 'src/registrations/',
  phone_code: 'src/phone/phone-codes.ts',
  sandbox_sms: 'src/phone/sms/sandbox-sms-gateway.ts',
  server_secret: 'src/keys/secret-store.ts',
  signature: 'src/signing/',
  signing_key: 'src/keys/signing-keys.ts',
  subscriber: 'src/subscribers/',
  webauthn_credential: 'src/holders/webauthn/',
}

/** Query-builder writes ('x' or 'x as alias') and raw SQL writes, with the table each names. */
const WRITES = [
  /\b(?:insertInto|updateTable|deleteFrom|mergeInto|replaceInto)\(\s*(?:'([a-z_]+)(?: as \w+)?'|"([a-z_]+)(?: as \w+)?"|([^'"\s)][^)]*))/g,
  /\b(?:insert\s+into\s+([a-z_]+)|delete\s+from\s+([a-z_]+)|truncate\s+(?:table\s+)?(?!on\b)([a-z_]+)|update\s+([a-z_]+)(?:\s+as\s+\w+)?\s+set)\b/gi,
]

/** The tables a source text writes; a builder call with a computed name is reported as `?name`. */
export function writtenTables(source: string): string[] {
  const found: string[] = []
  for (const match of source.matchAll(WRITES[0]!)) found.push(match[1] ?? match[2] ?? `?${match[3]!.trim()}`)
  // Raw SQL lives in template literals; comments and prose are left out by reading only those.
  for (const literal of source.matchAll(/`[^`]*`/g)) {
    for (const match of literal[0].matchAll(WRITES[1]!)) found.push((match[1] ?? match[2] ?? match[3] ?? match[4]!).toLowerCase())
  }
  return found
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'browser' ? [] : sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

const tablesOfSchema = (): string[] => fs.readdirSync(path.join(ROOT_DIR, 'src/db/schema')).flatMap((file) => {
  const text = fs.readFileSync(path.join(ROOT_DIR, 'src/db/schema', file), 'utf8')
  return [...text.matchAll(/^export interface \w+Schema \{\n((?:\s+\w+: \w+\n)+)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/^\s+(\w+):/gm)].map((t) => t[1]!))
})

describe('table ownership', () => {
  it('the scanner sees builder writes, aliased and computed names, and raw SQL in template literals, not reads or prose', () => {
    const sample = [
      "db.insertInto('subscriber').values(x)", "trx.updateTable('certificate as c')", 'db.deleteFrom(table)',
      "db.selectFrom('registration')", '// update registration here, delete from prose',
      'sql`insert into rate_limit (key) values (1) on conflict (key) do update set count = 2`', 'sql`update certificate_status_version set version = 1`',
      'sql`select 1 from crl for update skip locked`', 'sql`grant select, insert, update, delete on all tables`', 'sql`revoke update, delete, truncate on audit_event`',
    ].join('\n')
    assert.deepEqual(writtenTables(sample).sort(), ['?table', 'certificate', 'certificate_status_version', 'rate_limit', 'subscriber'])
  })

  it('names an owner for every table of the schema, and only those', () => {
    assert.deepEqual(Object.keys(OWNERS).sort(), tablesOfSchema().sort())
  })

  it('no module writes a table it does not own', () => {
    const strays: string[] = []
    for (const file of sourceFiles(path.join(ROOT_DIR, 'src'))) {
      const relative = path.relative(ROOT_DIR, file).split(path.sep).join('/')
      for (const table of writtenTables(fs.readFileSync(file, 'utf8'))) {
        const owner = OWNERS[table]
        if (!owner) strays.push(`${relative} writes ${table}, which has no owner`)
        else if (!relative.startsWith(owner)) strays.push(`${relative} writes ${table}, owned by ${owner}`)
      }
    }
    assert.deepEqual(strays, [])
  })
})
