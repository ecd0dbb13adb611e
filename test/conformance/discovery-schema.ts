import assert from 'node:assert/strict'

// The authorization server metadata the suite knows, with each member's type, as its JSON schema
// (src/main/resources/json-schemas/rfc8414/oauth_authorization_server_metadata.json) has them:
// ValidateServerMetadataAgainstSchema fails a member of the wrong type, and
// CheckForUnexpectedParametersInServerMetadata warns of a member it does not know. The schema has
// no required members (CheckDisc* conditions check those), and does not assert `format: uri`;
// this checks that the URI members are absolute URLs all the same.

const URIS = `issuer authorization_endpoint token_endpoint jwks_uri registration_endpoint service_documentation
  op_policy_uri op_tos_uri revocation_endpoint global_token_revocation_endpoint introspection_endpoint
  userinfo_endpoint end_session_endpoint check_session_iframe pushed_authorization_request_endpoint
  authorization_challenge_endpoint backchannel_authentication_endpoint challenge_endpoint
  device_authorization_endpoint signed_jwks_uri organization_uri logo_uri information_uri
  federation_registration_endpoint grant_management_endpoint status_list_aggregation_endpoint`
const STRINGS = 'signed_metadata organization_name display_name description'
const STRING_ARRAYS = `scopes_supported response_types_supported response_modes_supported grant_types_supported
  token_endpoint_auth_methods_supported token_endpoint_auth_signing_alg_values_supported ui_locales_supported
  revocation_endpoint_auth_methods_supported revocation_endpoint_auth_signing_alg_values_supported
  global_token_revocation_endpoint_auth_methods_supported global_token_revocation_endpoint_auth_signing_alg_values_supported
  introspection_endpoint_auth_methods_supported introspection_endpoint_auth_signing_alg_values_supported
  code_challenge_methods_supported subject_types_supported id_token_signing_alg_values_supported
  id_token_encryption_alg_values_supported id_token_encryption_enc_values_supported userinfo_signing_alg_values_supported
  userinfo_encryption_alg_values_supported userinfo_encryption_enc_values_supported request_object_signing_alg_values_supported
  request_object_encryption_alg_values_supported request_object_encryption_enc_values_supported display_values_supported
  claim_types_supported claims_supported claims_locales_supported acr_values_supported dpop_signing_alg_values_supported
  authorization_details_types_supported backchannel_token_delivery_modes_supported
  backchannel_authentication_request_signing_alg_values_supported authorization_signing_alg_values_supported
  authorization_encryption_alg_values_supported authorization_encryption_enc_values_supported
  client_attestation_signing_alg_values_supported client_attestation_pop_signing_alg_values_supported
  introspection_signing_alg_values_supported introspection_encryption_alg_values_supported
  introspection_encryption_enc_values_supported prompt_values_supported keywords contacts
  client_registration_types_supported trust_frameworks_supported evidence_supported documents_supported
  documents_check_methods_supported documents_methods_supported electronic_records_supported attachments_supported
  claims_in_verified_claims_supported transformed_claims_functions_supported grant_management_actions_supported
  request_authentication_signing_alg_values_supported protected_resources`
const BOOLEANS = `claims_parameter_supported request_parameter_supported request_uri_parameter_supported
  require_request_uri_registration frontchannel_logout_supported frontchannel_logout_session_supported
  backchannel_logout_supported backchannel_logout_session_supported require_pushed_authorization_requests
  backchannel_user_code_parameter_supported tls_client_certificate_bound_access_tokens
  pre-authorized_grant_anonymous_access_supported authorization_response_iss_parameter_supported
  require_signed_request_object client_id_metadata_document_supported grant_management_action_required`
const OBJECTS = 'mtls_endpoint_aliases jwks'
const ANY = 'transformed_claims_predefined request_authentication_methods_supported'

type Kind = 'uri' | 'string' | 'string[]' | 'boolean' | 'object' | 'any'
const words = (list: string) => list.split(/\s+/).filter(Boolean)
export const METADATA_TYPES: ReadonlyMap<string, Kind> = new Map([
  ...words(URIS).map((k) => [k, 'uri'] as const), ...words(STRINGS).map((k) => [k, 'string'] as const),
  ...words(STRING_ARRAYS).map((k) => [k, 'string[]'] as const), ...words(BOOLEANS).map((k) => [k, 'boolean'] as const),
  ...words(OBJECTS).map((k) => [k, 'object'] as const), ...words(ANY).map((k) => [k, 'any'] as const),
])

/** ValidateServerMetadataAgainstSchema (FAILURE) and CheckForUnexpectedParametersInServerMetadata (WARNING). */
export function checkMetadataAgainstSchema(doc: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(doc)) {
    const kind = METADATA_TYPES.get(key)
    assert.ok(kind, `${key} is metadata the suite knows (CheckForUnexpectedParametersInServerMetadata)`)
    const fits = kind === 'any' ? true
      : kind === 'uri' ? typeof value === 'string' && URL.canParse(value)
        : kind === 'string' ? typeof value === 'string'
          : kind === 'string[]' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
            : kind === 'boolean' ? typeof value === 'boolean'
              : typeof value === 'object' && value !== null && !Array.isArray(value)
    assert.ok(fits, `${key} is ${kind}: ${JSON.stringify(value)}`)
  }
}
