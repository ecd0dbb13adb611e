import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { AUDIT_EVENT_TYPES } from '../../src/audit/audit-log.ts'
import { ROOT_DIR } from '../../src/context.ts'

describe('audit event types', () => {
  for (const locale of ['ko', 'en']) {
    it(`the activity page names each of them in ${locale}, and no other`, () => {
      const messages = JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'views/locales', `${locale}.json`), 'utf8')) as Record<string, string>
      const named = Object.keys(messages).filter((k) => k.startsWith('account.event.')).map((k) => k.slice('account.event.'.length))
      assert.deepEqual(named.sort(), [...AUDIT_EVENT_TYPES].sort())
    })
  }
})
