import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { SEVERITY } from './conditions.ts'
import { DOC, documentedSection, documentedTable, loadPlans, planTable, sharedTable, SHARED_TABLES } from './docs-table.ts'

describe('docs/conformance.md', () => {
  it('shows the shared checks of each plan family with their severities', () => {
    const doc = fs.readFileSync(DOC, 'utf8')
    for (const family of Object.keys(SHARED_TABLES) as (keyof typeof SHARED_TABLES)[]) {
      assert.equal(documentedSection(doc, `<!-- shared:${family} -->`, '<!-- /shared -->'), sharedTable(family), `run \`npm run conformance:docs\``)
    }
  })

  it('lists every module of every plan with the status its test stands for', async () => {
    const doc = fs.readFileSync(DOC, 'utf8')
    const plans = await loadPlans()
    assert.ok(plans.length >= 6, 'the six plans')
    for (const plan of plans) {
      assert.equal(documentedTable(doc, plan), planTable(plan), `${plan.name}: run \`node test/conformance/docs-table.ts\` to update the table`)
      for (const [name, spec] of Object.entries(plan.modules)) {
        if (spec.status !== 'passes') assert.ok(spec.note, `${name} says why it is ${spec.status}`)
        for (const condition of spec.conditions ?? []) assert.ok(SEVERITY[condition], `${name}: ${condition} has its severity in conditions.ts`)
      }
    }
  })
})
