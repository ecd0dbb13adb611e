import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { migrations } from '../../migrations/index.ts'
import * as client from 'openid-client'
import { systemClock } from '../../src/util/clock.ts'
import { backchannelReceiver, type BackchannelReceiver } from '../helpers/backchannel.ts'
import { NEEDS_POSTGRES } from '../helpers/db.ts'
import { newMasterKey, runCli, startServerProcess } from '../helpers/process.ts'
import { freePort, startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

describe('postcert CLI', () => {
  let env: Record<string, string>
  before(() => { env = { DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey() } })

  it('migrates, then has nothing left to do', async () => {
    const first = await runCli(['migrate'], env)
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stdout, `applied: ${migrations.map((m) => m.name).join(', ')}\n`)
    const second = await runCli(['migrate'], env)
    assert.equal(second.stdout, `up to date (${migrations.length} migrations)\n`)
  })

  it('adds, lists, shows and removes a client, never showing the secret again', async () => {
    const added = await runCli(['clients', 'add', '--name', '우체국 데모', '--redirect-uri', 'https://rp.example.kr/cb', '--client-id', 'demo-rp'], env)
    assert.equal(added.code, 0, added.stderr)
    const client = JSON.parse(added.stdout)
    assert.equal(client.client_id, 'demo-rp')
    assert.deepEqual(client.grant_types, ['authorization_code', 'refresh_token'])
    assert.deepEqual(client.response_types, ['code'])
    assert.ok(client.client_secret.length >= 43)
    assert.match(added.stderr, /shown only now/)

    const listed = await runCli(['clients', 'list', '--json'], env)
    // The portal and the demo are the server's to register, with its settings: the CLI registers nothing of its own.
    assert.deepEqual(JSON.parse(listed.stdout).map((c: { client_id: string }) => c.client_id), ['demo-rp'])
    const development = await runCli(['clients', 'list', '--json'], { ...env, NODE_ENV: 'development', PUBLIC_URL: 'http://elsewhere.example:9999' })
    assert.deepEqual(JSON.parse(development.stdout).map((c: { client_id: string }) => c.client_id), ['demo-rp'], 'no demo client, no portal client with another issuer')
    assert.ok(!listed.stdout.includes(client.client_secret))
    const table = await runCli(['clients', 'list'], env)
    assert.match(table.stdout, /demo-rp\s+우체국 데모\s+client_secret_basic\s+authorization_code,refresh_token/)

    const shown = await runCli(['clients', 'show', 'demo-rp'], env)
    assert.equal(JSON.parse(shown.stdout).client_name, '우체국 데모')
    assert.ok(!shown.stdout.includes(client.client_secret))

    const duplicate = await runCli(['clients', 'add', '--name', 'again', '--client-id', 'demo-rp'], env)
    assert.equal(duplicate.code, 1)
    assert.equal(duplicate.stderr, 'postcert: client demo-rp already exists\n')

    assert.equal((await runCli(['clients', 'remove', 'demo-rp', '--yes'], env)).stdout, 'removed demo-rp\n')
    const gone = await runCli(['clients', 'show', 'demo-rp'], env)
    assert.equal(gone.code, 1)
    assert.equal(gone.stderr, 'postcert: no client demo-rp\n')
  })

  it('adds a public client without a secret', async () => {
    const added = await runCli(['clients', 'add', '--name', 'App', '--public', '--redirect-uri', 'http://localhost:8080/cb'], env)
    assert.equal(added.code, 0, added.stderr)
    const client = JSON.parse(added.stdout)
    assert.equal(client.token_endpoint_auth_method, 'none')
    assert.equal(client.client_secret, undefined)
  })

  it('refuses metadata oidc-provider would refuse, with its reason', async () => {
    const fragment = await runCli(['clients', 'add', '--name', 'x', '--redirect-uri', 'https://rp.example.kr/cb#frag'], env)
    assert.equal(fragment.code, 1)
    assert.equal(fragment.stderr, 'postcert: redirect_uris must not contain fragments\n')
    const method = await runCli(['clients', 'add', '--name', 'x', '--auth-method', 'magic'], env)
    assert.equal(method.code, 1)
    assert.equal(method.stderr, 'postcert: body token_endpoint_auth_method: Invalid option: expected one of "client_secret_basic"|"client_secret_post"|"private_key_jwt"|"none"\n')
  })

  it('creates an initial access token that a running server takes for one registration', async () => {
    const created = await runCli(['iat', 'create', '--ci', '--expires-in-days', '2'], env)
    assert.equal(created.code, 0, created.stderr)
    const token = JSON.parse(created.stdout)
    assert.ok(token.initial_access_token.length >= 43)
    assert.deepEqual(token.policies, ['ci'])
    assert.match(token.registration_endpoint, /\/reg$/)
    assert.ok(Math.abs(Date.parse(token.expires_at) - Date.now() - 2 * 86_400_000) < 60_000)
    assert.match(created.stderr, /shown only now/)
    for (const days of ['0', '366', 'x']) {
      const bad = await runCli(['iat', 'create', '--expires-in-days', days], env)
      assert.equal(bad.code, 2, days)
      assert.match(bad.stderr, /--expires-in-days must be an integer from 1 to 365/)
    }
    const port = await freePort()
    const server = await startServerProcess({ ...env, PORT: String(port) })
    try {
      const register = () => fetch(`${server.url}/reg`, {
        method: 'POST', headers: { authorization: `Bearer ${token.initial_access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://rp.example.kr/cb'], postcert_ci_allowed: true }),
      })
      const first = await register()
      assert.equal(first.status, 201)
      assert.equal(((await first.json()) as { postcert_ci_allowed?: boolean }).postcert_ci_allowed, true, 'the operator approved it with --ci')
      assert.equal((await register()).status, 401, 'spent by the first registration')
    } finally {
      await server.stop()
    }
  })

  it('explains usage mistakes with exit code 2: the whole usage for an unknown command, the command\'s own for a known one', async () => {
    for (const [args, usage] of [[['nonsense'], '<command>'], [['keys'], '<command>'], [['clients', 'add'], 'clients add'], [['clients', 'add', '--name', 'x', '--bogus'], 'clients add'], [['clients', 'show'], 'clients show']] as const) {
      const result = await runCli([...args], env)
      assert.equal(result.code, 2, args.join(' '))
      assert.ok(result.stderr.startsWith('postcert: ') && result.stderr.includes(`\n\nusage: postcert ${usage}`), result.stderr)
    }
    assert.match((await runCli(['keys'], env)).stderr, /^postcert: keys: expected list or rotate\n/)
    assert.match((await runCli(['clients', 'show'], env)).stderr, /^postcert: clients show: CLIENT_ID expected\n/)
  })

  it('refuses a flag it does not know before doing anything: keys rotate --dry-run rotates nothing, clients remove --force removes nothing (#18)', async () => {
    const before = await runCli(['keys', 'list', '--json'], env)
    assert.equal(before.code, 0, before.stderr)
    const dryRun = await runCli(['keys', 'rotate', '--dry-run'], env)
    assert.equal(dryRun.code, 2)
    assert.match(dryRun.stderr, /^postcert: keys rotate: unknown option '--dry-run'/)
    assert.deepEqual(JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout), JSON.parse(before.stdout), 'no key changed')
    await runCli(['clients', 'add', '--name', 'kept', '--client-id', 'kept-rp', '--redirect-uri', 'https://kept.example.kr/cb'], env)
    for (const args of [['clients', 'remove', '--force'], ['clients', 'remove', 'kept-rp', '--force'], ['clients', 'remove', 'kept-rp', 'other-rp', '--yes'], ['clients', 'list', '--wide']]) {
      const refused = await runCli(args, env)
      assert.equal(refused.code, 2, args.join(' '))
    }
    assert.equal((await runCli(['clients', 'show', 'kept-rp'], env)).code, 0, 'still there')
  })

  it('asks before it destroys: without --yes (and no terminal to ask on) a destructive command does nothing (#18)', async () => {
    const before = await runCli(['keys', 'list', '--json'], env)
    for (const args of [['keys', 'rotate'], ['clients', 'remove', 'kept-rp'], ['certificates', 'revoke', 'ab12', '--reason', 'keyCompromise'], ['certificates', 'suspend', 'ab12']]) {
      const refused = await runCli(args, env)
      assert.equal(refused.code, 2, args.join(' '))
      assert.match(refused.stderr, new RegExp(`^postcert: ${args.slice(0, 2).join(' ')} .+: add --yes to go on\n`))
    }
    assert.deepEqual(JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout), JSON.parse(before.stdout))
    assert.equal((await runCli(['clients', 'show', 'kept-rp'], env)).code, 0)
    const rotated = await runCli(['keys', 'rotate', '--yes'], env)
    assert.equal(rotated.code, 0, rotated.stderr)
    assert.match(rotated.stdout, /^activated: /)
  })

  it('explains each command with --help, and lists in columns that hold with Korean names (#18)', async () => {
    for (const [args, says] of [[['keys', 'rotate', '--help'], /^usage: postcert keys rotate \[--yes\]\n/], [['clients', 'add', '--help'], /^usage: postcert clients add --name NAME \[options\]\n[\s\S]*--redirect-uri URI/], [['help', 'certificates', 'revoke'], /^usage: postcert certificates revoke SERIAL --reason REASON \[--yes\]\n/]] as const) {
      const help = await runCli([...args], env)
      assert.equal(help.code, 0, help.stderr)
      assert.match(help.stdout, says)
      assert.doesNotMatch(help.stdout, /migrate /, 'that command only')
    }
    await runCli(['clients', 'add', '--name', '우체국 예금 보험', '--client-id', 'wide-rp', '--redirect-uri', 'https://wide.example.kr/cb'], env)
    const table = (await runCli(['clients', 'list'], env)).stdout.split('\n').filter(Boolean)
    // A Hangul syllable takes two columns on a terminal: the next column starts at the same place on every line.
    const width = (s: string) => [...s].reduce((n, c) => n + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(c) ? 2 : 1), 0)
    const authAt = table.map((line) => width(line.slice(0, line.search(/(auth|client_secret_basic|none)/))))
    assert.equal(new Set(authAt).size, 1, table.join('\n'))
  })

  it('goes through a running server\'s admin API on this machine: no downtime to add a client on the embedded database, the server\'s issuer, the operator named cli (#18)', async () => {
    const port = await freePort()
    const adminPort = await freePort()
    const server = await startServerProcess({ ...env, PORT: String(port), ADMIN_PORT: String(adminPort) })
    // The CLI's own settings name no port and no issuer: what it prints comes from the server.
    const cli = { ...env, ADMIN_PORT: String(adminPort) }
    const file = path.join(env.DATA_DIR!, 'admin.token')
    try {
      const added = await runCli(['clients', 'add', '--name', '무중단 은행', '--client-id', 'live-rp', '--redirect-uri', 'https://live.example.kr/cb'], cli)
      assert.equal(added.code, 0, added.stderr)
      assert.equal(JSON.parse(added.stdout).client_id, 'live-rp')
      // The running server knows it at once (the same database, through its own connection).
      const registered = await fetch(`${server.url}/auth?client_id=live-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://live.example.kr/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, { redirect: 'manual' })
      assert.equal(registered.status, 303, 'the new client can start a login')
      const iat = JSON.parse((await runCli(['iat', 'create'], cli)).stdout) as { registration_endpoint: string }
      assert.equal(iat.registration_endpoint, `http://localhost:${port}/reg`)
      const serial = 'ab12'
      const missing = await runCli(['certificates', 'show', serial], cli)
      assert.deepEqual([missing.code, missing.stderr], [1, `postcert: no certificate with serial ${serial}\n`])
      assert.equal((await runCli(['clients', 'remove', 'live-rp', '--yes'], cli)).code, 0)
      // A wrong token (another server's file) is refused, not taken.
      const saved = fs.readFileSync(file, 'utf8')
      assert.equal(fs.statSync(file).mode & 0o777, 0o600)
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(saved), token: 'forged' }))
      const forged = await runCli(['clients', 'list'], cli)
      assert.equal(forged.code, 1)
      assert.match(forged.stderr, /^postcert: the admin listener at .* did not prove it is the server that wrote/, 'a token the server did not write proves nothing')
      fs.writeFileSync(file, saved)
    } finally {
      assert.equal(await server.stop(), 0)
    }
    assert.equal(fs.existsSync(file), false, 'a clean stop removes the token')
    // A file left behind, naming a port another process took: the CLI sends it nothing.
    const impostor = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(req.url === '/openapi.json' ? JSON.stringify({ paths: {} }) : JSON.stringify({ proof: 'x'.repeat(43) }))
    })
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve))
    const seen: string[] = []
    impostor.on('request', (req: http.IncomingMessage) => { seen.push(`${req.url} ${req.headers.authorization ?? ''}`) })
    fs.writeFileSync(file, JSON.stringify({ url: `http://127.0.0.1:${(impostor.address() as { port: number }).port}`, token: 'the-real-token' }), { mode: 0o600 })
    const refused = await runCli(['clients', 'list'], cli)
    impostor.close()
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /did not prove it is the server that wrote .*admin\.token: nothing was sent to it/)
    assert.ok(seen.every((line) => !line.includes('the-real-token')), seen.join('\n'))
    // One readable by others is not taken at all.
    fs.chmodSync(file, 0o644)
    assert.equal((await runCli(['clients', 'list'], cli)).code, 0, 'ignored: the CLI opens the database')
    fs.rmSync(file)

    // Stopped: the CLI opens the database itself.
    const direct = await runCli(['clients', 'list', '--json'], cli)
    assert.equal(direct.code, 0, direct.stderr)
    assert.ok(!(JSON.parse(direct.stdout) as { client_id: string }[]).some((c) => c.client_id === 'live-rp'))
  })

  it('searches certificates, reads the audit log, exports it signed, and asks for dual control like the admin API (#18)', async () => {
    const json = async (args: string[]) => {
      const result = await runCli(args, env)
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
      return JSON.parse(result.stdout) as unknown
    }
    assert.deepEqual(await json(['certificates', 'search', '--status', 'revoked', '--json']), [])
    const added = JSON.parse((await runCli(['clients', 'add', '--name', '비밀 교체', '--client-id', 'rotating-rp', '--redirect-uri', 'https://rotate.example.kr/cb'], env)).stdout) as { client_secret: string }
    const rotated = await json(['clients', 'rotate-secret', 'rotating-rp', '--yes']) as { client_secret: string }
    assert.notEqual(rotated.client_secret, added.client_secret)
    const events = await json(['audit', 'query', '--type', 'operator.client_secret_rotated', '--json']) as { data: { actor: string; client_id: string } }[]
    assert.deepEqual([events[0]!.data.actor, events[0]!.data.client_id], ['cli', 'rotating-rp'])

    const exported = await runCli(['audit', 'export', '--type', 'operator.client_added'], env)
    assert.equal(exported.code, 0, exported.stderr)
    const lines = exported.stdout.trim().split('\n')
    const last = JSON.parse(lines.at(-1)!) as { export: { count: number }; jws: string }
    assert.equal(last.export.count, lines.length - 1)
    assert.match(last.jws, /^ey[\w-]+\.[\w-]+\.[\w-]+$/)

    const asked = await json(['approvals', 'revoke', '--serial', 'ab12', '--reason', 'unspecified']) as { id: string; status: string }
    assert.equal(asked.status, 'pending')
    const own = await runCli(['approvals', 'approve', asked.id, '--yes'], env)
    assert.deepEqual([own.code, own.stderr], [1, 'postcert: another operator must approve what you asked for (dual control)\n'])
    assert.equal((await json(['approvals', 'reject', asked.id]) as { status: string }).status, 'rejected')
    assert.deepEqual((await json(['approvals', 'list', '--status', 'rejected', '--json']) as { id: string }[]).map((a) => a.id), [asked.id])
    assert.deepEqual(await json(['subscribers', 'find', '--phone', '010-0000-0001', '--json']), [])
    const nobody = await runCli(['subscribers', 'show', 'ps_nobody'], env)
    assert.deepEqual([nobody.code, nobody.stderr], [1, 'postcert: no subscriber ps_nobody\n'])
  })

  it('invites an operator to the console with a single-use link at ADMIN_URL, lists them, and disables them only when told --yes (#18)', async () => {
    const withUrl = { ...env, ADMIN_PORT: '3999', ADMIN_URL: 'https://ops.postcert.test' }
    const invited = await runCli(['operators', 'invite', 'jung.ops', '--json'], withUrl)
    assert.equal(invited.code, 0, invited.stderr)
    const { invitation_url: url, name } = JSON.parse(invited.stdout) as { invitation_url: string; name: string }
    assert.equal(name, 'jung.ops')
    assert.match(url, /^https:\/\/ops\.postcert\.test\/console\/enroll#[A-Za-z0-9_-]{43}$/)
    // Without --yes (and no terminal to ask on) nothing is disabled: the invitation still stands.
    const unasked = await runCli(['operators', 'disable', 'jung.ops'], env)
    assert.equal(unasked.code, 2)
    const disabled = await runCli(['operators', 'disable', 'jung.ops', '--yes'], env)
    assert.equal(disabled.code, 0, disabled.stderr)
    const after = JSON.parse(disabled.stdout) as { disabled_at: string | null; invitation_expires_at: string | null }
    assert.equal(typeof after.disabled_at, 'string')
    assert.equal(after.invitation_expires_at, null, 'the open invitation ends with it')
  })

  it('says so when the embedded database is held by a running server', async () => {
    const port = await freePort()
    const server = await startServerProcess({ ...env, PORT: String(port) })
    try {
      const result = await runCli(['keys', 'list'], env)
      assert.equal(result.code, 1)
      assert.match(result.stderr, /^postcert: the embedded database in .* is in use by process \d+; stop that PostCert first, or set DATABASE_URL to use PostgreSQL\n$/)
    } finally {
      await server.stop()
    }
    assert.equal((await runCli(['keys', 'list'], env)).code, 0, 'free again once the server stopped')
  })
})

describe('postcert certificates: the operator revokes, suspends and resumes beside a running instance', { skip: NEEDS_POSTGRES }, () => {
  let server: TestServer
  let receiver: BackchannelReceiver
  let env: Record<string, string>
  before(async () => {
    receiver = await backchannelReceiver()
    server = await startTestServer({ backend: 'postgres' })
    env = { ...server.database.env, POSTCERT_MASTER_KEY: server.masterKey.toString('base64'), PUBLIC_URL: server.issuer, DATA_DIR: tempDir() }
  })
  after(async () => {
    await server.close()
    await receiver.close()
  })

  it('ends what the certificate opened, tells the institution, and restores nothing on resume', async () => {
    const h = new LoginHarness(server, systemClock)
    const holder = await h.subscriber()
    const bank = await h.relyingParty({ name: '운영은행', redirectUri: 'https://operator.example.kr/cb', scope: 'openid offline_access', metadata: { backchannel_logout_uri: receiver.uri } })
    const { tokens } = await h.login(bank, holder, { scope: 'openid offline_access', prompt: 'consent' })
    const serial = holder.certificate.serial

    const shown = await runCli(['certificates', 'show', serial], env)
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`${serial}\\s+${holder.id}\\s+file\\s+\\S+\\s+good`))
    const suspended = await runCli(['certificates', 'suspend', serial, '--yes'], env)
    assert.equal(suspended.code, 0, suspended.stderr)
    assert.match(suspended.stdout, /\ssuspended\s+certificateHold/)
    assert.equal(receiver.tokens.length, 1, 'the CLI delivered the back-channel logout')
    await assert.rejects(client.refreshTokenGrant(bank.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')
    assert.equal((await runCli(['certificates', 'resume', serial], env)).code, 0)
    await assert.rejects(client.refreshTokenGrant(bank.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')

    const noReason = await runCli(['certificates', 'revoke', serial, '--yes'], env)
    assert.equal(noReason.code, 2)
    assert.match(noReason.stderr, /--reason must be one of keyCompromise|--reason must be one of unspecified, keyCompromise/)
    const revoked = await runCli(['certificates', 'revoke', serial, '--reason', 'keyCompromise', '--yes'], env)
    assert.match(revoked.stdout, /\srevoked\s+keyCompromise/)
    const again = await runCli(['certificates', 'revoke', serial, '--reason', 'keyCompromise', '--yes'], env)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /is revoked; cannot revoke it/)
    const unknown = await runCli(['certificates', 'show', 'abcdef'], env)
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'postcert: no certificate with serial abcdef\n'])
  })
})
