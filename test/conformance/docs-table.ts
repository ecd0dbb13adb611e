import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FAPI_SHARED, OIDCC_SHARED, SEVERITY } from './conditions.ts'
import type { PlanSpec } from './plan.ts'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const DOC = path.resolve(HERE, '../../docs/conformance.md')

/** Every plan under plans/, as its file exports it. */
export async function loadPlans(): Promise<PlanSpec[]> {
  const plans: PlanSpec[] = []
  for (const file of fs.readdirSync(path.join(HERE, 'plans')).filter((f) => f.endsWith('.ts')).sort()) {
    const exported = await import(path.join(HERE, 'plans', file)) as Record<string, unknown>
    for (const value of Object.values(exported)) {
      if (value && typeof value === 'object' && 'modules' in value && 'name' in value) plans.push(value as PlanSpec)
    }
  }
  return plans
}

/** The table docs/conformance.md shows for a plan, between its markers. */
export function planTable(plan: PlanSpec): string {
  const specs = Object.entries(plan.modules)
  const conditions = (names: string[] = []) => names.map((c) => `${c} (${SEVERITY[c] ?? '?'})`).join(', ')
  const rows = specs.map(([name, spec]) => `| \`${name}\` | ${spec.status} | ${conditions(spec.conditions)} | ${spec.note ?? ''} |`)
  const count = (status: string) => specs.filter(([, spec]) => spec.status === status).length
  const summary = `${specs.length} module${specs.length === 1 ? '' : 's'}: ${count('passes')} pass, ${count('skipped by the suite')} skipped by the suite, ${count('not applicable')} not applicable.`
  return [`<!-- plan:${plan.name} -->`, `Variant: ${plan.variant}.`, '', summary, '', '| Module | Status | Its own conditions replayed (severity) | Note |', '|---|---|---|---|', ...rows, '<!-- /plan -->'].join('\n')
}

/** The shared checks of a plan family, as docs/conformance.md shows them between their markers. */
export const SHARED_TABLES = { oidcc: OIDCC_SHARED, fapi: FAPI_SHARED }

export function sharedTable(family: keyof typeof SHARED_TABLES): string {
  const rows = SHARED_TABLES[family].map(([condition, severity, where]) => `| ${condition} | ${severity} | \`${where}\` |`)
  return [`<!-- shared:${family} -->`, '| Condition | Severity | Asserted in |', '|---|---|---|', ...rows, '<!-- /shared -->'].join('\n')
}

/** A marked section of the document (`<!-- kind:name -->` to its closing marker), or undefined. */
export function documentedSection(doc: string, open: string, close: string): string | undefined {
  const start = doc.indexOf(open)
  if (start < 0) return undefined
  const end = doc.indexOf(close, start)
  return end < 0 ? undefined : doc.slice(start, end + close.length)
}

/** The plan's section as the document has it now, or undefined. */
export function documentedTable(doc: string, plan: PlanSpec): string | undefined {
  const start = doc.indexOf(`<!-- plan:${plan.name} -->`)
  if (start < 0) return undefined
  const end = doc.indexOf('<!-- /plan -->', start)
  return end < 0 ? undefined : doc.slice(start, end + '<!-- /plan -->'.length)
}

// `node test/conformance/docs-table.ts`: rewrites every plan's table in docs/conformance.md.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let doc = fs.readFileSync(DOC, 'utf8')
  for (const plan of await loadPlans()) {
    const current = documentedTable(doc, plan)
    if (!current) throw new Error(`docs/conformance.md has no section marked <!-- plan:${plan.name} -->`)
    doc = doc.replace(current, planTable(plan))
  }
  for (const family of Object.keys(SHARED_TABLES) as (keyof typeof SHARED_TABLES)[]) {
    const current = documentedSection(doc, `<!-- shared:${family} -->`, '<!-- /shared -->')
    if (!current) throw new Error(`docs/conformance.md has no section marked <!-- shared:${family} -->`)
    doc = doc.replace(current, sharedTable(family))
  }
  fs.writeFileSync(DOC, doc)
}
