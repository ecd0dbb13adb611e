import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { openssl } from './pki.ts'
import { ROOT } from './process.ts'
import { tempDir } from './server.ts'

export const NGINX = '/usr/sbin/nginx'

/** Skip reason when Debian's nginx is not installed (.ci/run installs it). */
export const NEEDS_NGINX = fs.existsSync(NGINX) ? false : `install nginx (apt-get install -y nginx) at ${NGINX}`

/** The shipped server block (deploy/nginx/postcert.conf): the tests run through exactly what operators deploy. */
export const SHIPPED_CONFIG = path.join(ROOT, 'deploy', 'nginx', 'postcert.conf')

export interface TlsProxy {
  /** https://localhost:PORT */
  origin: string
  port: number
  /** The test CA that issued the proxy's certificate (PEM). */
  caPem: string
  close(): Promise<void>
}

/** A test CA and a certificate from it for localhost (and 127.0.0.1), RSA as the suite's BCP 195 list allows: the files' paths. */
export async function testCertificates(dir = tempDir('postcert-tls-')): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => path.join(dir, name)
  const run = async (args: string[]) => {
    const made = await openssl(args)
    if (made.code !== 0) throw new Error(`openssl ${args[0]}: ${made.output}`)
  }
  await run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=PostCert test TLS CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost'])
  fs.writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n')
  await run(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext')])
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') }
}

/**
 * nginx in front of `upstream` (host:port of a plain-HTTP PostCert) on `port`, with the shipped
 * server block and a certificate for localhost from a test CA. Runs as a child of the tests
 * (no daemon, its files in a temporary folder); close() stops it.
 */
export async function startTlsProxy(port: number, upstream: string): Promise<TlsProxy> {
  const dir = tempDir('postcert-nginx-')
  const certs = await testCertificates(dir)
  const server = fs.readFileSync(SHIPPED_CONFIG, 'utf8')
    .replaceAll('{{LISTEN}}', `127.0.0.1:${port}`).replaceAll('{{SERVER_NAME}}', 'localhost')
    .replaceAll('{{CERTIFICATE_KEY}}', certs.key).replaceAll('{{CERTIFICATE}}', certs.cert).replaceAll('{{UPSTREAM}}', upstream)
  assert(!/\{\{\w+\}\}/.test(server), 'every placeholder of the shipped config is filled in')
  const temp = (name: string) => path.join(dir, name)
  fs.writeFileSync(temp('nginx.conf'), [
    // As root, nginx would hand its workers to an unprivileged user who cannot read this folder.
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;', `pid ${temp('nginx.pid')};`, `error_log ${temp('error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log off; client_body_temp_path ${temp('body')}; proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')}; uwsgi_temp_path ${temp('uwsgi')}; scgi_temp_path ${temp('scgi')};`,
    server,
    '}',
  ].join('\n'))
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', temp('nginx.conf'), '-e', temp('error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => { stderr += d })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const until = Date.now() + 10_000
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL')
      const log = fs.existsSync(temp('error.log')) ? fs.readFileSync(temp('error.log'), 'utf8') : ''
      throw new Error(`nginx did not start: ${stderr}${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    origin: `https://localhost:${port}`, port, caPem: fs.readFileSync(certs.ca, 'utf8'),
    close: async () => {
      if (child.exitCode === null) child.kill('SIGQUIT')
      await exited
    },
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

async function answers(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/**
 * This test process trusts `caPem` beside its default roots, for every TLS connection that names
 * no CA of its own: fetch (openid-client, jose) and Node's https (supertest). Verification stays
 * on: a certificate from elsewhere still fails.
 */
export function trustTestCa(caPem: string): void {
  const current = tls.getCACertificates('default')
  if (!current.includes(caPem)) tls.setDefaultCACertificates([...current, caPem])
}
