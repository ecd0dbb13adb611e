import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as jose from 'jose'
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
import introspection from 'oidc-provider/lib/actions/introspection.js'
import revocation from 'oidc-provider/lib/actions/revocation.js'
import rejectStructuredTokens from 'oidc-provider/lib/shared/reject_structured_tokens.js'
import { rejectStructuredTokensWithDots, skipJwtParseOfOpaqueTokens } from '../../src/oidc/opaque-tokens.ts'

/** What the middleware reads of a request: its token and the route it came by. */
const request = (token: string, route = 'introspection') => ({ oidc: { params: { token }, route } }) as unknown as KoaContextWithOIDC

/** Runs the middleware; true when it let the request go on. */
async function passes(token: string, route?: string): Promise<boolean> {
  let went = false
  await rejectStructuredTokensWithDots(request(token, route), async () => { went = true })
  return went
}

describe('the JWT check of introspection and revocation (#19)', () => {
  it('takes the place of oidc-provider\'s in both endpoints, once however often it is applied', () => {
    skipJwtParseOfOpaqueTokens()
    skipJwtParseOfOpaqueTokens()
    for (const stack of [introspection, revocation]) {
      assert.ok(!stack.includes(rejectStructuredTokens), 'oidc-provider\'s own check is gone')
      assert.equal(stack.filter((middleware) => middleware === rejectStructuredTokensWithDots).length, 1)
    }
  })

  it('lets opaque tokens through, and anything else that is not a JWT', async () => {
    assert.equal(await passes('Zk3vQ2xYb8mN1pL4rT6uW9aS0dF7gH5jK2lC3vB4nM6'), true)
    assert.equal(await passes(''), true)
    // Dots, but no JOSE header: oidc-provider's own check decides, and lets it through too.
    assert.equal(await passes('not.a.jwt'), true)
    assert.equal(await passes('a.b'), true)
  })

  it('refuses a signed or an encrypted JWT with unsupported_token_type, as oidc-provider does', async () => {
    const key = new Uint8Array(32)
    const jws = await new jose.SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(key)
    const jwe = await new jose.EncryptJWT({ sub: 'x' }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key)
    for (const [token, route, verb] of [[jws, 'introspection', 'introspected'], [jwe, 'introspection', 'introspected'], [jws, 'revocation', 'revoked']] as const) {
      await assert.rejects(passes(token, route), (err: InstanceType<typeof errors.UnsupportedTokenType>) =>
        err instanceof errors.UnsupportedTokenType && err.error_description === `Structured JWT Tokens cannot be ${verb} via the ${route}_endpoint`)
    }
  })
})
