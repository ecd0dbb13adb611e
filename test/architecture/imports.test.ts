import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT_DIR } from '../../src/context.ts'

/**
 * What each room of src/ may import (README, Code map): arrows run down, from the composition
 * root to the domain rooms to the shared ones, never back up. A new arrow is a decision: it goes
 * here, and the README says why. The root files (main, server-main, context, routes, jobs, serve) compose the
 * app and may import any room; no room imports them, except the CLI, which opens a context.
 */
const ALLOWED: Record<string, string[]> = {
  admin: ['audit', 'ca', 'db', 'errors', 'http', 'keys', 'oidc', 'ops', 'phone', 'registrations', 'signing', 'subscribers', 'util'],
  account: ['audit', 'ca', 'db', 'errors', 'holders', 'http', 'oidc', 'phone', 'possession', 'registrations', 'sessions', 'subscribers', 'util'],
  audit: ['db', 'util'],
  browser: ['der', 'holders', 'signing'],
  ca: ['audit', 'db', 'der', 'errors', 'http', 'keys', 'util'],
  cli: ['admin', 'audit', 'ca', 'config', 'context.ts', 'db', 'errors', 'oidc', 'ops', 'signing', 'util'],
  config: ['holders'],
  db: ['config', 'errors'],
  der: [],
  enrollment: ['audit', 'ca', 'db', 'errors', 'holders', 'http', 'phone', 'possession', 'subscribers', 'util'],
  errors: ['db'],
  holders: ['ca', 'config', 'db', 'der', 'util'],
  home: ['http'],
  http: ['config', 'constants.ts', 'db', 'errors', 'ops'],
  interactions: ['audit', 'ca', 'config', 'db', 'errors', 'http', 'login', 'oidc', 'possession', 'registrations', 'signing', 'util'],
  keys: ['db', 'util'],
  login: ['ca', 'db', 'holders', 'keys', 'possession', 'subscribers', 'util'],
  oidc: ['constants.ts', 'db', 'errors', 'http', 'keys', 'ops', 'possession', 'registrations', 'sessions', 'signing', 'subscribers', 'util'],
  ops: ['audit', 'config', 'db', 'http', 'util'],
  phone: ['db', 'errors', 'util'],
  possession: ['ca', 'constants.ts', 'db', 'errors', 'holders', 'util'],
  registrations: ['audit', 'db', 'errors', 'oidc', 'util'],
  sessions: ['ca', 'constants.ts', 'db', 'oidc', 'util'],
  signing: ['audit', 'ca', 'constants.ts', 'db', 'errors', 'holders', 'http', 'keys', 'possession', 'util'],
  subscribers: ['constants.ts', 'db', 'phone', 'util'],
  util: ['config', 'db', 'errors', 'keys'],
}
const ROOT_FILES = new Set(['main.ts', 'server-main.ts', 'context.ts', 'routes.ts', 'jobs.ts', 'serve.ts', 'constants.ts'])

/** The rooms of src/ a file imports (relative imports only; packages are not rooms). */
export function importedRooms(file: string, source: string): string[] {
  const rooms = new Set<string>()
  for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = path.relative(path.join(ROOT_DIR, 'src'), path.resolve(path.dirname(file), match[1]!)).split(path.sep)
    if (target[0] === '..') continue // migrations/, outside src
    rooms.add(target[0]!)
  }
  return [...rooms]
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

describe('imports between rooms', () => {
  it('the scanner names the room of every relative import, static or dynamic', () => {
    const file = path.join(ROOT_DIR, 'src/http/app.ts')
    const source = "import a from '../ca/x.ts'\nimport type { B } from './router.ts'\nconst c = await import('../../migrations/index.ts')\nimport d from 'koa'\nimport('../context.ts')"
    assert.deepEqual(importedRooms(file, source).sort(), ['ca', 'context.ts', 'http'])
  })

  it('lists every room of src/', () => {
    const rooms = fs.readdirSync(path.join(ROOT_DIR, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    assert.deepEqual(Object.keys(ALLOWED).sort(), rooms.sort())
  })

  it('no room imports what it may not: http knows nothing of the app, the CA no holder, login and signing not each other, enrollment and the portal not each other', () => {
    const strays: string[] = []
    for (const file of sourceFiles(path.join(ROOT_DIR, 'src'))) {
      const [room, ...rest] = path.relative(path.join(ROOT_DIR, 'src'), file).split(path.sep)
      if (!rest.length) {
        assert.ok(ROOT_FILES.has(room!), `src/${room} is a root file no rule covers`)
        continue
      }
      for (const target of importedRooms(file, fs.readFileSync(file, 'utf8'))) {
        if (target !== room && !ALLOWED[room!]!.includes(target)) strays.push(`src/${room}/${rest.join('/')} imports ${target}`)
      }
    }
    assert.deepEqual(strays, [])
  })
})
