import { randomBytes } from 'node:crypto'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import pino from 'pino'
import { buildConfig } from '../../src/config/config.ts'
import type { ServerEnv } from '../../src/config/env.ts'
import { AppContext, type ContextOverrides } from '../../src/context.ts'
import { serve, type ServingContext } from '../../src/serve.ts'
import { createTestDatabase, type Backend, type TestDatabase } from './db.ts'

export interface TestServer {
  ctx: AppContext
  url: string
  /** The admin API's listener, when the test asked for one (ADMIN_PORT: '0'). */
  adminUrl: string | undefined
  issuer: string
  database: TestDatabase
  masterKey: Buffer
  close(): Promise<void>
}

/** A port that was free a moment ago (the issuer must be known before the server starts). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export function tempDir(prefix = 'postcert-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** An in-process PostCert on 127.0.0.1 with its own database. */
export async function startTestServer(options: {
  backend?: Backend
  env?: ServerEnv
  overrides?: ContextOverrides
  database?: TestDatabase
  /** The master key the database was set up with, when it comes prepared. */
  masterKey?: Buffer
  /** The issuer's host name; WebAuthn needs a domain (localhost), not an IP address. */
  hostname?: string
} = {}): Promise<TestServer> {
  const port = await freePort()
  const database = options.database ?? await createTestDatabase(options.backend)
  const masterKey = options.masterKey ?? randomBytes(32)
  const config = buildConfig({ NODE_ENV: 'test', PORT: String(port), ADMIN_PORT: 'off', PUBLIC_URL: `http://${options.hostname ?? '127.0.0.1'}:${port}`, DATA_DIR: tempDir(), ...options.env })
  const ctx = await AppContext.fromConfig(config, { masterKey }, { logger: pino({ level: 'silent' }), db: database.db, migrationDb: database.ownerDb, ...options.overrides })
  let running: ServingContext
  try {
    running = await serve(ctx, { port, host: '127.0.0.1', jobs: false })
  } catch (err) {
    await ctx.close()
    throw err
  }
  return {
    ctx, url: running.url, adminUrl: running.admin?.url, issuer: config.issuer, database, masterKey,
    close: async () => {
      await running.close()
      await database.dropData()
    },
  }
}
