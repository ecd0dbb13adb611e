import assert from 'node:assert/strict'
import request from 'supertest'
import type { Conformance } from '../harness.ts'
import type { PlanSpec } from '../plan.ts'
import { checkServerJwks } from '../checks.ts'
import { checkMetadataAgainstSchema } from '../discovery-schema.ts'

/**
 * The conditions of OIDCCDiscoveryEndpointVerification checkDiscovery asserts in both variants
 * (the static client's response and grant types conditions are the config plan's; the dynamic
 * plan's are its own). The JWKS it fetches is checked as every module checks it (shared).
 */
export const DISCOVERY_CONDITIONS = ['EnsureDiscoveryEndpointResponseStatusCodeIs200', 'CheckDiscoveryEndpointReturnedJsonContentType', 'CheckDiscEndpointDiscoveryUrl',
  'CheckDiscEndpointIssuer', 'CheckDiscEndpointIssuerIsValidUrl', 'ValidateServerMetadataAgainstSchema', 'CheckForUnexpectedParametersInServerMetadata',
  'CheckDiscEndpointSubjectTypesSupported', 'OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported', 'OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported',
  'CheckDiscEndpointAuthorizationEndpoint', 'CheckDiscEndpointTokenEndpoint', 'CheckDiscEndpointUserinfoEndpoint', 'CheckDiscEndpointRegistrationEndpoint', 'CheckJwksUri',
  'CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256', 'OIDCCCheckDiscEndpointClaimsSupported', 'CheckDiscEndpointScopesSupportedContainsOpenId',
  'CheckDiscEndpointScopesSupportedSyntax', 'CheckDiscEndpointLocalesSyntax', 'CheckDiscEndpointLocalesCanonicalCasing', 'CheckDiscEndpointAllEndpointsAreHttps',
  'EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray']

/** The discovery checks both the config and the dynamic plans run (the dynamic plan adds its own on top). */
export async function checkDiscovery(c: Conformance, issuer: string, fetch: (path: string) => request.Test): Promise<Record<string, any>> {
  const res = await fetch('/.well-known/openid-configuration').expect(200)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  const m = res.body
  checkMetadataAgainstSchema(m)
  assert.equal(m.issuer, issuer, 'issuer matches the discovery URL')
  // CheckDiscEndpointIssuerIsValidUrl: an RFC 8414 issuer (https, a host, no query, fragment or user information).
  const iss = new URL(m.issuer)
  assert.ok(iss.protocol === 'https:' && iss.hostname && !iss.search && !iss.hash && !iss.username && !iss.password, `a valid issuer URL: ${m.issuer}`)
  assert.ok(m.response_types_supported.includes('code'))
  assert.ok(m.subject_types_supported.some((t: string) => t === 'public' || t === 'pairwise'))
  assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'), 'RS256 for ID tokens')
  for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri']) assert.ok(m[key], `${key} is given`)
  for (const [key, value] of Object.entries(m)) {
    if (key.endsWith('_endpoint') || key === 'jwks_uri') assert.equal(new URL(String(value)).protocol, 'https:', `${key} is https`)
  }
  assert.ok(m.scopes_supported.includes('openid'))
  assert.ok(m.scopes_supported.every((s: string) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)), 'scope syntax')
  assert.ok(Array.isArray(m.claims_supported) && m.claims_supported.length)
  assert.ok(Array.isArray(m.grant_types_supported) && m.grant_types_supported.length)
  assert.ok(Array.isArray(m.code_challenge_methods_supported))
  if (m.code_challenge_methods_supported.length) assert.ok(m.code_challenge_methods_supported.some((method: string) => method === 'S256' || method === 'plain'))
  if (m.userinfo_signing_alg_values_supported !== undefined) assert.ok(Array.isArray(m.userinfo_signing_alg_values_supported))
  if (m.request_object_signing_alg_values_supported) assert.ok(m.request_object_signing_alg_values_supported.includes('RS256'))
  // CheckDiscEndpointLocalesSyntax and CheckDiscEndpointLocalesCanonicalCasing (lower-case language, Title-case script, upper-case region).
  for (const locale of [...m.ui_locales_supported ?? [], ...m.claims_locales_supported ?? []]) assert.match(locale, /^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$/)
  // The JWKS: valid public keys, each with a unique kid (ValidateJwksSequence).
  const jwks = (await fetch(new URL(m.jwks_uri).pathname).expect(200)).body
  await checkServerJwks(jwks)
  assert.ok(jwks.keys.some((k: { kty: string }) => k.kty === 'RSA'), 'an RSA key for RS256')
  return m
}

export const OIDCC_CONFIG: PlanSpec = {
  name: 'oidcc-config-certification-test-plan',
  variant: 'server_metadata=discovery, client_registration=static_client',
  // As deployed: behind nginx with the shipped TLS configuration (the suite refuses http endpoints).
  server: async () => ({ tls: true }),
  modules: {
    'oidcc-discovery-endpoint-verification': {
      status: 'passes',
      note: 'run against the https issuer behind nginx, as deployed',
      conditions: [...DISCOVERY_CONDITIONS, 'OIDCCCheckDiscEndpointResponseTypesSupported', 'OIDCCCheckDiscEndpointGrantTypesSupported'],
      test: async (c) => {
        if (!c.proxy) return // no nginx on this machine: a warning said so (the suite needs https)
        assert.equal(new URL(c.issuer).protocol, 'https:', 'CheckDiscEndpointDiscoveryUrl: an https discovery URL')
        await checkDiscovery(c, c.issuer, (path) => request(c.url).get(path))
      },
    },
  },
}
