import { runPlan } from './plan.ts'
import { FAPI2 } from './plans/fapi2-security-profile-final.ts'

runPlan(FAPI2)
