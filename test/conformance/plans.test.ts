import { describe } from 'node:test'
import { runPlan } from './plan.ts'
import { FAPI2 } from './plans/fapi2-security-profile-final.ts'
import { OIDCC_BACKCHANNEL_RP_INITIATED_LOGOUT } from './plans/oidcc-backchannel-rp-initiated-logout.ts'
import { OIDCC_BASIC } from './plans/oidcc-basic.ts'
import { OIDCC_CONFIG } from './plans/oidcc-config.ts'
import { OIDCC_DYNAMIC } from './plans/oidcc-dynamic.ts'
import { OIDCC_RP_INITIATED_LOGOUT } from './plans/oidcc-rp-initiated-logout.ts'

// The plans run side by side, each on a server of its own, its modules one after another: their
// real waits (30 to 62 s) overlap instead of adding up. One plan alone:
//   node --test --test-name-pattern=oidcc-basic-certification-test-plan test/conformance/plans.test.ts
describe('the OpenID certification plans, side by side', { concurrency: true }, () => {
  for (const plan of [OIDCC_BASIC, OIDCC_CONFIG, OIDCC_DYNAMIC, OIDCC_RP_INITIATED_LOGOUT, OIDCC_BACKCHANNEL_RP_INITIATED_LOGOUT, FAPI2]) runPlan(plan)
})
