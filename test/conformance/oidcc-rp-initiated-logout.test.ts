import { runPlan } from './plan.ts'
import { OIDCC_RP_INITIATED_LOGOUT } from './plans/oidcc-rp-initiated-logout.ts'

runPlan(OIDCC_RP_INITIATED_LOGOUT)
