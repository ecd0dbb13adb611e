import { runPlan } from './plan.ts'
import { OIDCC_DYNAMIC } from './plans/oidcc-dynamic.ts'

runPlan(OIDCC_DYNAMIC)
