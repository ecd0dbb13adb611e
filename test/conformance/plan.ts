import { after, before, describe, it } from 'node:test'
import { Conformance } from './harness.ts'

/**
 * How PostCert stands with a module of an OpenID Foundation test plan:
 * - `passes`: the test does what the module does and asserts what it asserts;
 * - `skipped by the suite`: the module's own precondition is false for PostCert (the test checks
 *   that precondition, and what PostCert answers if the request is sent anyway);
 * - `not applicable`: the module needs something PostCert deliberately does not offer (`why`
 *   says what); the test checks PostCert refuses it cleanly.
 */
export type ModuleStatus = 'passes' | 'skipped by the suite' | 'not applicable'

export interface ModuleSpec {
  status: ModuleStatus
  /** One line for docs/conformance.md: why it is skipped or not applicable, or what to know. */
  note?: string
  /**
   * The module's own conditions the test asserts (beside the shared ones of conditions.ts), named
   * as the suite's Java classes are; their severities are in conditions.ts SEVERITY.
   */
  conditions?: string[]
  test: (c: Conformance) => Promise<void>
  /**
   * The module really waits (c.wait) as long as the suite does. It runs beside the plan's other
   * modules: started before them, on a Conformance of its own (its own clients, no beforeModule),
   * it goes on while they run once it reaches its wait; its test awaits the outcome.
   */
  waits?: number
}

export interface PlanSpec {
  /** The plan's name in the suite, e.g. oidcc-basic-certification-test-plan. */
  name: string
  /** The variant the tests follow, as the suite writes it. */
  variant: string
  /**
   * The client authentication of the variant: every module first runs the suite's shared checks
   * of discovery (which must offer it) and the JWKS (Conformance.sharedChecks). Unset for a plan
   * whose only module checks discovery itself.
   */
  authMethod?: string
  /** Server options the whole plan needs (environment, overrides), made before the server starts. */
  server?: () => Promise<Parameters<typeof Conformance.start>[0]>
  /** Shared preparation (clients the plan's config would name), run once after the server starts. */
  setup?: (c: Conformance) => Promise<void>
  /**
   * Run before each module (after the shared checks): what the suite's configure() makes for
   * every module, e.g. a client of its own (Conformance.suiteClient, deleted when the module ends).
   */
  beforeModule?: (c: Conformance) => Promise<void>
  /** Closes what `server` or `setup` opened besides PostCert (sites, listeners). */
  teardown?: () => Promise<void>
  modules: Record<string, ModuleSpec>
}

/** One node:test test per module, named after it, on one server for the plan. */
export function runPlan(plan: PlanSpec): void {
  // One module after another (a plan run side by side with others would otherwise inherit their concurrency).
  describe(plan.name, { concurrency: 1 }, () => {
    let c: Conformance
    const waiting = new Map<string, Promise<void>>()
    before(async () => {
      c = await Conformance.start(await plan.server?.())
      await plan.setup?.(c)
      for (const [name, spec] of Object.entries(plan.modules).filter(([, s]) => s.waits)) {
        const own = c.fork()
        const reached = new Promise<void>((resolve) => { own.onWait = resolve })
        const run = (async () => {
          if (plan.authMethod) await own.sharedChecks(plan.authMethod)
          await spec.test(own)
          await own.cleanupModule()
        })()
        run.catch(() => {}) // its own test reports it
        waiting.set(name, run)
        await Promise.race([reached, run])
      }
    })
    after(async () => {
      await c?.close()
      await plan.teardown?.()
    })
    for (const [name, spec] of Object.entries(plan.modules)) {
      it(name, async () => {
        if (spec.waits) return await waiting.get(name)
        if (plan.authMethod) await c.sharedChecks(plan.authMethod)
        await plan.beforeModule?.(c)
        await spec.test(c)
        await c.cleanupModule()
      })
    }
  })
}
