// What `docker compose up` does, without a Docker engine (there is none on CI): the image's file
// layout is built from the Dockerfile's final stage (root-owned, as COPY leaves it; dist/ as bin/build.ts makes it), the
// environment from the Dockerfile's ENV and the compose file's service (interpolated as compose
// does; checked against `docker-compose config` when that CLI is installed), and the server is
// started as an unprivileged user with the image's CMD. A module guard fails the server if it loads
// a package the production image leaves out (dev dependencies) or the embedded database.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { DIST } from '../../bin/build.ts'
import { newMasterKey, ROOT, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'
import { SHIPPED_CONFIG } from '../helpers/tls-proxy.ts'

/** The image's user (node:24's `node`): what matters is that it is not root and owns nothing but the data directory. */
const IMAGE_UID = 1000
const DOCKER_COMPOSE = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((f) => fs.existsSync(f))
const NEEDS_ROOT = process.getuid?.() === 0 ? false : 'run as root to start the server as another user'

interface Instruction { op: string; args: string }
interface Stage { name: string | undefined; instructions: Instruction[] }

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function readDockerfile(file: string): Stage[] {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ')
  const stages: Stage[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!
    const instruction = { op: op!.toUpperCase(), args: args!.trim() }
    if (instruction.op === 'FROM') stages.push({ name: / AS (\S+)$/i.exec(instruction.args)?.[1], instructions: [] })
    stages.at(-1)!.instructions.push(instruction)
  }
  return stages
}

const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args)

/** `ENV A=1 B=2` and `ENV A 1` forms. */
function imageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const args of all(stage, 'ENV')) {
    if (!args.includes('=')) {
      const [name, ...value] = args.split(/\s+/)
      env[name!] = value.join(' ')
      continue
    }
    for (const pair of args.match(/\S+=("[^"]*"|\S*)/g) ?? []) {
      const at = pair.indexOf('=')
      env[pair.slice(0, at)] = pair.slice(at + 1).replace(/^"|"$/g, '')
    }
  }
  return env
}

/**
 * Builds the final stage's files under `rootfs`: COPY from the build context copies the named
 * paths, COPY --from=<stage> of node_modules links the checkout's (installed by npm ci there),
 * other COPY --from create the directory; everything is root's except what --chown gives the user.
 */
function buildLayout(stage: Stage, rootfs: string): { workdir: string; user: string; cmd: string[]; volumes: string[] } {
  let workdir = '/'
  const inRoot = (p: string) => path.join(rootfs, path.posix.resolve(workdir, p))
  for (const { op, args } of stage.instructions) {
    if (op === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, args)
      fs.mkdirSync(inRoot('.'), { recursive: true })
    }
    if (op !== 'COPY') continue
    const words = args.split(/\s+/)
    const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]))
    const paths = words.filter((w) => !w.startsWith('--'))
    const dest = paths.pop()!
    const target = inRoot(dest)
    if (flags.from) {
      assert.equal(paths.length, 1)
      if (paths[0]!.endsWith('/node_modules')) fs.symlinkSync(path.join(ROOT, 'node_modules'), target)
      // The first stage's `node bin/build.ts`, which the helpers ran in the checkout too.
      else if (paths[0]!.endsWith('/dist')) fs.cpSync(DIST, target, { recursive: true })
      else fs.mkdirSync(target, { recursive: true })
    } else {
      for (const source of paths) {
        const into = dest.endsWith('/') ? path.join(target, path.basename(source)) : target
        fs.mkdirSync(path.dirname(into), { recursive: true })
        fs.cpSync(path.join(ROOT, source), into, { recursive: true })
      }
    }
    if (flags.chown) fs.chownSync(target, IMAGE_UID, IMAGE_UID)
  }
  const cmd = JSON.parse(all(stage, 'CMD').at(-1)!) as string[]
  const volumes = all(stage, 'VOLUME').flatMap((v) => v.split(/\s+/))
  return { workdir, user: all(stage, 'USER').at(-1) ?? 'root', cmd, volumes }
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (all, name: string | undefined, colon: string, kind: string, word: string) => {
    if (all === '$$') return '$'
    const value = vars[name!]
    const missing = value === undefined || (colon === ':' && value === '')
    if (!missing) return value
    if (kind === '?') throw new Error(`compose refuses: ${word}`)
    return kind === '-' ? word : ''
  })
}

/** One service's environment from a compose file, as the container gets it. */
function composeEnv(file: string, service: string, vars: Record<string, string>): Record<string, string> {
  const doc = parseYaml(fs.readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, unknown> }> }
  const environment = doc.services[service]?.environment
  assert.ok(environment, `${file} has a ${service} service with an environment`)
  return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), vars)]))
}

/** The same from the compose CLI, when installed: it must agree with ours. */
function composeCliEnv(file: string, service: string, vars: Record<string, string>): Record<string, string> | undefined {
  if (!DOCKER_COMPOSE) return undefined
  const out = execFileSync(DOCKER_COMPOSE, ['-f', file, 'config'], { env: { PATH: process.env.PATH, ...vars }, encoding: 'utf8' })
  const doc = parseYaml(out) as { services: Record<string, { environment: Record<string, unknown> }> }
  return Object.fromEntries(Object.entries(doc.services[service]!.environment).map(([k, v]) => [k, String(v)]))
}

/** Packages `npm ci --omit=dev` leaves out, as package-lock.json paths. */
function devPackages(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  return Object.entries(lock.packages).filter(([p, v]) => p && v.dev).map(([p]) => p)
}

const GUARD = path.join(ROOT, 'test/helpers/module-guard.ts')

/**
 * Starts the image's CMD in `rootfs` as the image's user, with `env` (container paths under the
 * root of the layout mapped into it), the module guard denying `denied`.
 */
async function startAsImage(layout: ReturnType<typeof buildLayout>, rootfs: string, env: Record<string, string>, denied: string[]) {
  const mapped = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, /^\/(var|run|app)\//.test(v) ? path.join(rootfs, v) : v]))
  const [command, ...args] = layout.cmd
  assert.equal(command, 'node', 'the image runs node')
  return await startServerProcess({ ...mapped, HOME: path.join(rootfs, 'home/node'), POSTCERT_DENIED_PACKAGES: JSON.stringify(denied) }, {
    args: ['--import', GUARD, ...args], cwd: path.join(rootfs, layout.workdir), uid: IMAGE_UID, timeoutMs: 90_000,
  })
}

describe('the Docker image and compose files', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  const stages = readDockerfile(path.join(ROOT, 'Dockerfile'))
  const final = stages.at(-1)!

  it('installs production dependencies only, without npm\'s cache, and runs as a non-root user', () => {
    assert.ok(stages.length >= 2, 'multi-stage')
    const install = stages.flatMap((s) => all(s, 'RUN')).find((r) => r.includes('npm ci'))
    assert.match(install ?? '', /npm ci --omit=dev\b.*&& npm cache clean --force/)
    assert.deepEqual(all(final, 'RUN'), [], 'nothing is installed in the final stage (no npm, no cache)')
    assert.ok(stages.slice(0, -1).some((s) => all(s, 'RUN').includes('node bin/build.ts')), 'the server\'s JavaScript is built in an earlier stage')
    assert.equal(JSON.parse(all(final, 'CMD').at(-1)!).at(-1), 'dist/src/main.js', 'the image runs the built server, as npm start')
    const user = all(final, 'USER').at(-1)
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`)
    const env = imageEnv(final)
    assert.equal(env.NODE_ENV, 'production')
    assert.equal(env.MALLOC_ARENA_MAX, '2', 'as npm start')
    assert.ok(env.DATA_DIR && all(final, 'VOLUME').join(' ').includes(env.DATA_DIR), 'the data directory is a volume')
    const ignored = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')
    for (const p of ['node_modules', '.data', '.git', 'test']) assert.ok(ignored.includes(p), `.dockerignore has ${p}`)
  })

  it('the production example\'s proxy is the shipped nginx server block, with both nodes upstream and /metrics kept inside', () => {
    const block = (text: string) => text.slice(text.indexOf('ssl_protocols')).replace(/proxy_pass \S+;/, 'proxy_pass UPSTREAM;').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    const production = fs.readFileSync(path.join(ROOT, 'deploy/production/nginx.conf'), 'utf8')
    assert.deepEqual(block(production), block(fs.readFileSync(SHIPPED_CONFIG, 'utf8')))
    assert.match(production, /server postcert-1:3000[^;]*;\s*server postcert-2:3000/)
    assert.match(production, /location = \/metrics \{ return 404; \}/)
  })

  it('docker compose up: PostCert starts as the image\'s user on a root-owned app, writes only its data volume, and loads no dev dependency', { skip: NEEDS_ROOT || NEEDS_POSTGRES }, async () => {
    const rootfs = tempDir('postcert-image-')
    fs.chmodSync(rootfs, 0o755)
    cleanups.push(async () => fs.rmSync(rootfs, { recursive: true, force: true }))
    const layout = buildLayout(final, rootfs)
    assert.notEqual(layout.user, 'root')

    const vars = { POSTCERT_MASTER_KEY: newMasterKey(), DEMO_RP_URL: 'http://localhost:4000' }
    const file = path.join(ROOT, 'docker-compose.yml')
    const env = composeEnv(file, 'postcert', vars)
    const fromCli = composeCliEnv(file, 'postcert', vars)
    if (fromCli) assert.deepEqual(fromCli, env, 'docker-compose config gives the same environment')
    assert.throws(() => composeEnv(file, 'postcert', {}), /set POSTCERT_MASTER_KEY/, 'compose refuses to start without a master key')
    assert.equal(composeEnv(file, 'postcert', { POSTCERT_MASTER_KEY: 'k' }).DEMO_RP_URL, 'off', 'no demo client unless asked for')
    assert.match(env.DATABASE_URL!, /@postgres:5432\//)

    // Compose's network names aside (postgres:5432, port 3000), the container's environment as it is.
    const schema = await createTestSchema()
    cleanups.push(schema.dropSchema)
    const port = await freePort()
    const server = await startAsImage(layout, rootfs, {
      ...imageEnv(final), ...env, DATABASE_URL: schema.url, DATABASE_OWNER_URL: schema.ownerUrl,
      PORT: String(port), PUBLIC_URL: `http://localhost:${port}`,
    }, [...devPackages(), 'node_modules/@electric-sql/pglite'])
    cleanups.push(() => server.stop())

    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    assert.equal(ready.status, 200, server.output())
    const discovery = await (await fetch(`http://localhost:${port}/.well-known/openid-configuration`)).json() as { issuer: string }
    assert.equal(discovery.issuer, `http://localhost:${port}`)
    // The compose health check, as the container runs it.
    const healthcheck = parseYaml(fs.readFileSync(file, 'utf8')).services.postcert.healthcheck.test as string[]
    const probe = spawnSync(process.execPath, healthcheck.slice(2).map((a) => a.replace(':3000/', `:${port}/`)), { timeout: 10_000 })
    assert.equal(probe.status, 0, 'the health check passes')

    // The demo client's credentials went to the data volume, owned by the image's user.
    const dataDir = path.join(rootfs, imageEnv(final).DATA_DIR!)
    const written = path.join(dataDir, 'demo-rp-client.json')
    assert.ok(fs.existsSync(written), server.output())
    assert.equal(fs.statSync(written).uid, IMAGE_UID)
    assert.equal(fs.statSync(written).mode & 0o777, 0o600)
    assert.equal(await server.stop(), 0)
  })

  it('the production example starts with its secrets in files (*_FILE), two processes per node, and refuses a missing one', { skip: NEEDS_ROOT || NEEDS_POSTGRES }, async () => {
    const rootfs = tempDir('postcert-image-')
    fs.chmodSync(rootfs, 0o755)
    cleanups.push(async () => fs.rmSync(rootfs, { recursive: true, force: true }))
    const layout = buildLayout(final, rootfs)

    // make-secrets.sh writes the secrets once and keeps them on a second run.
    const deployDir = path.join(rootfs, 'deploy')
    fs.cpSync(path.join(ROOT, 'deploy/production'), deployDir, { recursive: true })
    execFileSync(path.join(deployDir, 'make-secrets.sh'), { encoding: 'utf8' })
    const secretsDir = path.join(deployDir, 'secrets')
    const masterKey = fs.readFileSync(path.join(secretsDir, 'master_key'), 'utf8')
    assert.match(execFileSync(path.join(deployDir, 'make-secrets.sh'), { encoding: 'utf8' }), /kept {4}secrets\/master_key/)
    assert.equal(fs.readFileSync(path.join(secretsDir, 'master_key'), 'utf8'), masterKey)
    assert.equal(fs.statSync(path.join(secretsDir, 'master_key')).mode & 0o777, 0o600)
    const ownerPassword = fs.readFileSync(path.join(secretsDir, 'database_owner_password'), 'utf8').trim()
    assert.ok(fs.readFileSync(path.join(secretsDir, 'database_owner_url'), 'utf8').includes(`:${ownerPassword}@postgres:5432/`))

    const vars = { PUBLIC_URL: 'https://id.postcert.test', SMS_GATEWAY_URL: 'https://sms.postcert.test/send', IDENTITY_PROVIDER_URL: 'https://id-check.postcert.test/verify' }
    const file = path.join(deployDir, 'docker-compose.yml')
    const env = composeEnv(file, 'postcert-2', vars)
    const fromCli = composeCliEnv(file, 'postcert-2', vars)
    if (fromCli) assert.deepEqual(fromCli, env, 'docker-compose config gives the same environment')
    assert.throws(() => composeEnv(file, 'postcert-1', { ...vars, PUBLIC_URL: '' }), /set PUBLIC_URL/)
    // Nothing secret in the environment: the master key, tokens and database URLs (with passwords) are files.
    for (const name of ['POSTCERT_MASTER_KEY', 'SMS_GATEWAY_TOKEN', 'IDENTITY_PROVIDER_TOKEN', 'DATABASE_URL', 'DATABASE_OWNER_URL']) {
      assert.equal(env[name], undefined, name)
      assert.match(env[`${name}_FILE`] ?? '', /^\/run\/secrets\//, `${name}_FILE`)
    }

    // The secrets as compose mounts them (/run/secrets/NAME), the database URLs pointing at this test's schema.
    const runSecrets = path.join(rootfs, 'run/secrets')
    fs.mkdirSync(runSecrets, { recursive: true })
    const schema = await createTestSchema()
    cleanups.push(schema.dropSchema)
    fs.writeFileSync(path.join(secretsDir, 'database_url'), `${schema.url}\n`)
    fs.writeFileSync(path.join(secretsDir, 'database_owner_url'), `${schema.ownerUrl}\n`)
    fs.writeFileSync(path.join(secretsDir, 'sms_gateway_token'), 'sms-token\n')
    fs.writeFileSync(path.join(secretsDir, 'identity_provider_token'), 'identity-token\n')
    for (const name of fs.readdirSync(secretsDir)) {
      fs.copyFileSync(path.join(secretsDir, name), path.join(runSecrets, name))
      fs.chmodSync(path.join(runSecrets, name), 0o444)
    }
    const port = await freePort()
    const nodeEnv: Record<string, string> = { ...imageEnv(final), ...env, PORT: String(port) }
    assert.equal(nodeEnv.WEB_CONCURRENCY, '2')
    const server = await startAsImage(layout, rootfs, nodeEnv, [...devPackages(), 'node_modules/@electric-sql/pglite'])
    cleanups.push(() => server.stop())
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    assert.equal(ready.status, 200, server.output())
    // Through the TLS proxy (X-Forwarded-Proto: https), discovery names the public issuer.
    const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https' } })).json() as { issuer: string }
    assert.equal(discovery.issuer, 'https://id.postcert.test')
    assert.equal(await server.stop(), 0)
    assert.doesNotMatch(server.output(), /sms-token|identity-token|postgres:\/\//, 'secrets stay out of the logs')

    // A secret file that is missing stops start-up with one line naming it.
    fs.rmSync(path.join(runSecrets, 'sms_gateway_token'))
    const failed = spawnSync(process.execPath, layout.cmd.slice(1), {
      cwd: path.join(rootfs, layout.workdir), uid: IMAGE_UID, gid: IMAGE_UID, encoding: 'utf8', timeout: 30_000,
      env: { PATH: process.env.PATH, ...Object.fromEntries(Object.entries(nodeEnv).map(([k, v]) => [k, v.startsWith('/run/') ? path.join(rootfs, v) : v])) },
    })
    assert.equal(failed.status, 78)
    assert.match(failed.stderr, /^postcert: invalid configuration: SMS_GATEWAY_TOKEN_FILE cannot be read: ENOENT/)
  })
})
