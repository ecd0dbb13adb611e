import assert from 'node:assert/strict'
import pino from 'pino'
import type { ApprovalView } from '../../src/admin/approvals.ts'
import { buildConfig } from '../../src/config/config.ts'
import { AppContext } from '../../src/context.ts'

/**
 * A second operator approves what `postcert` asked for (its output names the request: "asked as
 * apr_…"), on the same database as the CLI, as a person at the console would.
 */
export async function approveAsAnotherOperator(env: Record<string, string>, cliOutput: string, operator = 'second.ops'): Promise<ApprovalView> {
  const id = /asked as (apr_[\w-]+)/.exec(cliOutput)?.[1]
  assert.ok(id, `the CLI names the request: ${cliOutput}`)
  const ctx = await AppContext.fromConfig(buildConfig({ NODE_ENV: 'test', ADMIN_PORT: 'off', ...env }), { masterKey: Buffer.from(env.POSTCERT_MASTER_KEY!, 'base64url') }, { logger: pino({ level: 'silent' }), tool: true })
  try {
    return await ctx.adminDeps().approvals.approve(id, { id: `operator:${operator}`, clientId: undefined })
  } finally {
    await ctx.close()
  }
}
