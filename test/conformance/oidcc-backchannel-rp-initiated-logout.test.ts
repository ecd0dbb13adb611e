import { runPlan } from './plan.ts'
import { OIDCC_BACKCHANNEL_RP_INITIATED_LOGOUT } from './plans/oidcc-backchannel-rp-initiated-logout.ts'

runPlan(OIDCC_BACKCHANNEL_RP_INITIATED_LOGOUT)
