import { runPlan } from './plan.ts'
import { OIDCC_CONFIG } from './plans/oidcc-config.ts'

runPlan(OIDCC_CONFIG)
