import { runPlan } from './plan.ts'
import { OIDCC_BASIC } from './plans/oidcc-basic.ts'

runPlan(OIDCC_BASIC)
