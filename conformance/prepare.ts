// `npm run conformance:prepare -- --host HOST --suite SUITE_URL [--out DIR]`
//
// Prepares a run of the OpenID Foundation's conformance suite against a PostCert in test mode
// (POSTCERT_TEST_MODE=true), with the same environment as that server (DATABASE_URL,
// POSTCERT_MASTER_KEY, ...); with the embedded database, stop the server first. It
//  1. creates a reusable initial access token whose clients may omit PKCE (the OpenID Connect
//     plans register their own clients and send no PKCE),
//  2. registers the two FAPI 2.0 clients the FAPI plan names, with new PS256 keys (the suite
//     runs its RS256-must-fail module only for PS256 client keys),
//  3. writes every config of this folder into DIR with the placeholders filled in.
// The written files hold the token and the FAPI clients' private keys: keep them private.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fillPlaceholders, type Json, type Placeholders } from './config.ts'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const CLI = path.join(HERE, '..', 'bin', 'postcert.js')

const { values } = parseArgs({ options: { host: { type: 'string' }, suite: { type: 'string' }, out: { type: 'string' } } })
if (!values.host || !values.suite) {
  process.stderr.write('usage: npm run conformance:prepare -- --host POSTCERT_HOST --suite https://SUITE [--out DIR]\n')
  process.exit(2)
}
const host = values.host
const suite = values.suite.replace(/\/$/, '')
const out = path.resolve(values.out ?? '.conformance')

const postcert = (...args: string[]): Record<string, unknown> => {
  process.stderr.write(`postcert ${args.slice(0, 3).join(' ')} ...\n`)
  return JSON.parse(execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Record<string, unknown>
}

const iat = postcert('iat', 'create', '--pkce-optional', '--reusable', '--expires-in-days', '7')
const fapi = [1, 2].map((n) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `conformance-${n}-${randomBytes(4).toString('hex')}`
  const jwk = (key: typeof privateKey) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'PS256', use: 'sig' })
  // The second client's redirect URI carries a query, as the FAPI plan's happy flow checks.
  const redirect = `${suite}/test/a/postcert-fapi/callback${n === 2 ? '?dummy1=lorem&dummy2=ipsum' : ''}`
  const client = postcert('clients', 'add', '--fapi', '--name', `OpenID conformance suite, FAPI client ${n}`, '--redirect-uri', redirect,
    '--scope', 'openid profile offline_access', '--metadata', JSON.stringify({ jwks: { keys: [jwk(publicKey)] } }))
  return { id: String(client.client_id), privateJwk: jwk(privateKey) }
})

const vars: Placeholders = {
  host, suiteOrigin: new URL(suite).origin, initialAccessToken: String(iat.initial_access_token),
  fapiClients: fapi.map((c) => ({ id: c.id, privateJwk: c.privateJwk as Json })),
}

fs.mkdirSync(out, { recursive: true, mode: 0o700 })
for (const file of fs.readdirSync(HERE).filter((f) => f.endsWith('.json'))) {
  const filled = JSON.stringify(fillPlaceholders(JSON.parse(fs.readFileSync(path.join(HERE, file), 'utf8')) as Json, vars), null, 2)
  fs.writeFileSync(path.join(out, file), `${filled}\n`, { mode: 0o600 })
}
process.stdout.write(`${JSON.stringify({ out, initial_access_token_expires_at: iat.expires_at, fapi_clients: fapi.map((c) => c.id) }, null, 2)}\n`)
