// The conformance suite's conditions the replays assert, with the severity the suite gives each
// (Condition.ConditionResult: F = FAILURE, W = WARNING, I = INFO; a condition run with different
// severities in different modules has the one of its usual call). docs/conformance.md shows them:
// the shared checks once per plan family, each module's own beside it (ModuleSpec.conditions).
// A WARNING is asserted like a FAILURE: PostCert meets both.

export type Severity = 'F' | 'W' | 'I'

/** What every OpenID Connect module runs (AbstractOIDCCServerTest), and where the replay asserts it. */
export const OIDCC_SHARED: readonly (readonly [condition: string, severity: Severity, where: string])[] = [
  ['CheckServerConfiguration', 'F', 'Conformance.sharedChecks'],
  ['EnsureServerConfigurationSupportsClientSecretBasic / ...ClientSecretPost / ...PrivateKeyJwt (the variant)', 'F', 'Conformance.sharedChecks'],
  ['FetchServerKeys, CheckServerKeysIsValid', 'W', 'checkServerJwks'],
  ['EnsureJwksHasNoPrivateOrSymmetricKeyMaterial', 'F', 'checkServerJwks'],
  ['ValidateJwksStructure, ParseUsableJwksKeys', 'F', 'checkServerJwks'],
  ['WarnOnUnusableJwksKeys', 'W', 'checkServerJwks'],
  ['CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValueInServerJWKs', 'F', 'checkServerJwks'],
  ['EnsureContentTypeJson, EnsureHttpStatusCodeIs201 (registration)', 'F', 'Conformance.suiteClient'],
  ['CheckNoErrorFromDynamicRegistrationEndpoint, VerifyClientManagementCredentials', 'F', 'Conformance.suiteClient'],
  ['VerifyDynamicRegistrationResponseClientCredentials', 'F', 'Conformance.suiteClient'],
  ['CheckMatchingCallbackParameters, ValidateIssIfPresentInAuthorizationResponse', 'F', 'callback checks'],
  ['CheckStateInAuthorizationResponse', 'F', 'openid-client, checkAuthorizationError'],
  ['EnsureErrorFromAuthorizationEndpointResponse, RejectAuthCodeInAuthorizationEndpointResponse', 'F', 'checkAuthorizationError'],
  ['CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint', 'W', 'checkAuthorizationError'],
  ['ValidateErrorDescriptionFromAuthorizationEndpointResponseError, ...ErrorUri...', 'F', 'checkAuthorizationError'],
  ['CheckErrorDescriptionFromAuthorizationEndpointResponseErrorContainsCRLFTAB', 'W', 'checkAuthorizationError'],
  ['CheckTokenEndpointHttpStatus200, CheckForAccessTokenValue', 'F', 'checkTokenResponse'],
  ['ValidateExpiresIn', 'F', 'checkTokenResponse'],
  ['ValidateIdToken (iss, aud, exp, iat within 5 min, auth_time, acr)', 'F', 'checkIdToken'],
  ['ValidateIdTokenSignature', 'F', 'checkIdToken'],
  ['ValidateIdTokenNonce, CheckForSubjectInIdToken', 'F', 'checkIdToken'],
  ['ValidateIdTokenStandardClaims, EnsureIdTokenUpdatedAtValid', 'F', 'checkIdToken'],
  ['ValidateAtHash, ValidateCHash (when present)', 'F', 'checkIdToken'],
  ['EnsureHttpStatusCodeIs200 (userinfo)', 'F', 'Conformance.codeFlow'],
  ['UnregisterDynamicallyRegisteredClient (204)', 'W', 'Conformance.cleanupModule'],
]

/** What every FAPI 2.0 module runs (AbstractFAPI2SPFinalServerTestModule, this variant), beside the discovery and JWKS checks above. */
export const FAPI_SHARED: readonly (readonly [condition: string, severity: Severity, where: string])[] = [
  ['CheckForPARResponseExpiresIn, EnsurePAR...Entropy (request_uri)', 'F', 'pushed'],
  ['CheckForDPoPNonceInResponse (PAR, token, resource)', 'F', 'checkDpopNonceHeader'],
  ['RequireIssInAuthorizationResponse, CheckMatchingCallbackParameters', 'F', 'checkCallback'],
  ['ValidateSuccessfulAuthCodeFlowResponseFromAuthorizationEndpoint', 'W', 'checkCallback'],
  ['EnsureMinimumAuthorizationCodeLength, ...Entropy', 'F', 'checkCallback'],
  ['EnsureMinimumAccessTokenLength, ...Entropy', 'F', 'checkTokens'],
  ['ValidateExpiresIn', 'F', 'checkTokens'],
  ['PerformStandardIdTokenChecks, FAPIValidateIdTokenSigningAlg, EnsureIdTokenContainsKid', 'F', 'checkTokens'],
  ['CheckForDateHeaderInResourceResponse, CheckForFAPIInteractionIdInResourceResponse, EnsureMatchingFAPIInteractionId', 'F', 'checkResourceHeaders'],
  ['ValidateErrorFromTokenEndpointResponseError, ...ErrorDescription..., ...ErrorUri...', 'F', 'tokenError'],
  ['EnsureTLS12RequireBCP195Ciphers, DisallowTLS10, DisallowTLS11 (happy-flow, ensure-holder-of-key-required)', 'F', 'checkTls'],
]

/**
 * Severities of the conditions modules name as their own (ModuleSpec.conditions). A module names
 * a condition exactly as its Java class is called; docs.test.ts requires each to be listed here.
 */
export const SEVERITY: Readonly<Record<string, Severity>> = {
  EnsureIdTokenContainsKid: 'F',
  EnsureIdTokenSignatureIsRS256: 'F',
}
