import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { DOC, documentedTable, loadPlans, planTable } from './docs-table.ts'

describe('docs/conformance.md', () => {
  it('lists every module of every plan with the status its test stands for', async () => {
    const doc = fs.readFileSync(DOC, 'utf8')
    const plans = await loadPlans()
    assert.ok(plans.length >= 6, 'the six plans')
    for (const plan of plans) {
      assert.equal(documentedTable(doc, plan), planTable(plan), `${plan.name}: run \`node test/conformance/docs-table.ts\` to update the table`)
      for (const [name, spec] of Object.entries(plan.modules)) {
        if (spec.status !== 'passes') assert.ok(spec.note, `${name} says why it is ${spec.status}`)
      }
    }
  })
})
