import assert from 'node:assert/strict'
import * as client from 'openid-client'
import { Conformance, SUITE, type Rp } from '../harness.ts'
import type { PlanSpec } from '../plan.ts'

/** The clients the plan's configuration names: client, client2 and client_secret_post. */
let rp: Rp
let rp2: Rp
let postRp: Rp

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The ID token claims of a token response. */
const idToken = (tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers) => tokens.claims()!

/** A scope module: the flow succeeds and userinfo answers; claims of unsupported scopes are absent. */
async function scopeModule(c: Conformance, scope: string, expect: string[], absent: string[] = []) {
  const { userinfo, tokens } = await c.codeFlow(rp, { scope })
  for (const claim of expect) assert.ok(claim in userinfo, `userinfo has ${claim}`)
  for (const claim of absent) assert.ok(!(claim in userinfo) && !(claim in idToken(tokens)), `no ${claim}`)
}

/** oidc-provider's unsupported scopes are dropped: the suite skips these modules on discovery. */
async function unsupportedScope(c: Conformance, scope: string) {
  assert.ok(!(await c.discovery()).scopes_supported.includes(scope), `${scope} is not in scopes_supported`)
}

export const OIDCC_BASIC: PlanSpec = {
  name: 'oidcc-basic-certification-test-plan',
  variant: 'server_metadata=discovery, client_registration=dynamic_client (client_auth_type=client_secret_basic, response_type=code)',
  setup: async (c) => {
    rp = await c.register({ grant_types: ['authorization_code', 'refresh_token'] })
    rp2 = await c.register({ grant_types: ['authorization_code', 'refresh_token'] })
    postRp = await c.register({ token_endpoint_auth_method: 'client_secret_post' })
  },
  modules: {
    'oidcc-server': {
      status: 'passes',
      test: async (c) => {
        const { tokens, userinfo, callback } = await c.codeFlow(rp)
        assert.ok(callback.searchParams.get('code')!.length >= 22, 'the code has enough entropy')
        assert.equal(callback.searchParams.get('iss'), c.issuer)
        assert.ok(tokens.expires_in && tokens.expires_in > 0)
        const claims = idToken(tokens)
        assert.equal(claims.iss, c.issuer)
        assert.equal(claims.aud, rp.clientId)
        assert.ok(!('name' in claims), 'no unrequested claims in the ID token')
        assert.equal(userinfo.sub, claims.sub)
      },
    },
    'oidcc-response-type-missing': {
      status: 'passes',
      note: 'PostCert redirects back with invalid_request (the module also accepts an error page)',
      test: async (c) => {
        const { step, state } = await c.authorize(rp, { response_type: undefined })
        assert.equal(Conformance.authorizationError(step.callback, state), 'invalid_request')
      },
    },
    'oidcc-idtoken-signature': {
      status: 'passes',
      note: 'ES256 by default; a client registered for RS256 gets RS256 (oidcc-idtoken-rs256)',
      test: async (c) => {
        const { tokens } = await c.codeFlow(rp)
        const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString())
        assert.ok(header.kid, 'the ID token names its key')
        assert.ok((await c.discovery()).id_token_signing_alg_values_supported.includes(header.alg))
      },
    },
    'oidcc-idtoken-unsigned': {
      status: 'skipped by the suite',
      note: '`none` is not in id_token_signing_alg_values_supported; registering it is refused',
      test: async (c) => {
        assert.ok(!(await c.discovery()).id_token_signing_alg_values_supported.includes('none'))
        const res = await c.registration({ redirect_uris: [`${SUITE}/callback`], id_token_signed_response_alg: 'none' })
        assert.equal(res.status, 400)
        assert.equal(res.body.error, 'invalid_client_metadata')
      },
    },
  },
}
