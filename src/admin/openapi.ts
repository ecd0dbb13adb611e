import { z } from 'zod'
import { SCHEMAS, SINGLE_CHANGES_PER_HOUR, type AdminRoute } from './api.ts'
import { ADMIN_SCOPE } from './auth.ts'

type JsonSchema = Record<string, unknown>

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as a request or as an answer. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema
  return rest
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } })

/**
 * PostCert's OpenAPI 3.1 document: the admin API (generated from its routes' zod schemas, so it
 * cannot drift from what the routes accept and answer) and the public PKI and signature
 * endpoints institutions and relying software call, on the issuer's server.
 */
export function openApiDocument(routes: AdminRoute[], options: { issuer: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const parameters = [
      ...Object.entries(route.params?.shape ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema: jsonSchema(schema as z.ZodType, 'input') })),
      ...Object.entries(route.query?.shape ?? {}).map(([name, schema]) => {
        const s = schema as z.ZodType
        return { name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s, 'input'), ...(s.description ? { description: s.description } : {}) }
      }),
    ]
    const status = String(route.status ?? 200)
    paths[route.path] ??= {}
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } } : {}),
      responses: {
        [status]: {
          description: route.summary,
          content: { [route.jsonLines ? 'application/x-ndjson' : 'application/json']: { schema: jsonSchema(route.response, 'output') } },
        },
        ...(route.params || route.query || route.body ? { 400: errorResponse('the request is not valid (invalid_request)') } : {}),
        ...(route.public ? {} : { 401: errorResponse('no admin API token, or not a valid one (invalid_token)'), 403: errorResponse('the token lacks the admin scope (insufficient_scope)') }),
        ...(route.params ? { 404: errorResponse('no such resource (not_found)') } : {}),
        ...(route.method === 'POST' && (route.params || route.tag === 'operators') ? { 409: errorResponse('the resource\'s state does not allow it') } : {}),
        ...(route.limited ? { 429: errorResponse(`more than ${SINGLE_CHANGES_PER_HOUR} status changes by this operator in an hour: the rest is a bulk revocation under dual control (dual_control_required)`) } : {}),
        ...(route.tag === 'approvals' && route.params && route.method === 'POST' ? { 403: errorResponse('no token with the admin scope (insufficient_scope), or the operator who asked approving (second_operator_required)') } : {}),
      },
    }
  }
  Object.assign(paths, listenerPaths(), publicPaths(options.issuer))
  return {
    openapi: '3.1.0',
    info: {
      title: 'PostCert admin API',
      version: options.version,
      description: 'The operator\'s API, on the management listener (ADMIN_PORT). Every call but the documents and /healthz needs a bearer token from the client_credentials grant at the issuer\'s token endpoint, with scope admin, of a client the operator made an admin API client (postcert clients add --admin). Every action is an audit event naming the client. The public PKI and signature endpoints are on the issuer\'s server.',
    },
    servers: [{ url: '/', description: 'the management listener (ADMIN_HOST:ADMIN_PORT)' }],
    security: [{ adminToken: [ADMIN_SCOPE] }],
    tags: ['clients', 'operators', 'keys', 'ca', 'certificates', 'approvals', 'subscribers', 'audit', 'operations', 'pki', 'signatures'].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: jsonSchema(SCHEMAS.error, 'output') },
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          description: 'client_credentials with scope admin; send the access token as Authorization: Bearer',
          flows: { clientCredentials: { tokenUrl: `${options.issuer}/token`, scopes: { [ADMIN_SCOPE]: 'the admin API' } } },
        },
        institutionToken: { type: 'http', scheme: 'bearer', description: 'an institution\'s access token (bearer or DPoP) from the authorization that asked for the signature' },
      },
    },
  }
}

/** The management listener's own routes besides the API: its documents, health, metrics, the CLI's proof. */
function listenerPaths(): Record<string, Record<string, unknown>> {
  const json = (description: string, schema: JsonSchema) => ({ 200: { description, content: { 'application/json': { schema } } } })
  return {
    '/openapi.json': { get: { security: [], tags: ['operations'], operationId: 'openApiDocument', summary: 'This document', responses: json('the OpenAPI 3.1 document', { type: 'object', required: ['openapi'] }) } },
    '/healthz': { get: { security: [], tags: ['operations'], operationId: 'adminHealth', summary: 'Liveness of the management listener', responses: json('alive', { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) } },
    '/metrics': {
      get: {
        tags: ['operations'], operationId: 'adminMetrics', summary: 'Prometheus metrics (summed over the workers), as on the public port',
        responses: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: { type: 'string' } } } }, 401: errorResponse('no admin API token, or not a valid one (invalid_token)') },
      },
    },
    '/cli/proof': {
      post: {
        security: [], tags: ['operations'], operationId: 'cliProof',
        summary: 'For the CLI on the server\'s machine: HMAC-SHA256, keyed with the SHA-256 of the token in DATA_DIR/admin.token, of the nonce; proves the listener is the server that wrote the token before the CLI sends it',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['nonce'], properties: { nonce: { type: 'string', pattern: '^[A-Za-z0-9_-]{22,128}$' } } } } } },
        responses: { ...json('the proof', { type: 'object', required: ['proof'], properties: { proof: { type: 'string' } } }), 400: errorResponse('no nonce'), 404: errorResponse('no local token (a server started without one)') },
      },
    },
  }
}

/** The public endpoints on the issuer's server: binary PKI documents and the signature API. */
function publicPaths(issuer: string): Record<string, Record<string, unknown>> {
  const servers = [{ url: issuer, description: 'the issuer (PUBLIC_URL)' }]
  const binary = (type: string, description: string) => ({ 200: { description, content: { [type]: { schema: { type: 'string', contentMediaType: type } } } } })
  const json = (description: string, schema: JsonSchema = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } })
  const serial = { name: 'serial', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-fA-F]{1,64}$' } }
  const open = { security: [], tags: ['pki'] }
  return {
    '/pki/ca.pem': { servers, get: { ...open, operationId: 'caChain', summary: 'The issuing CA and root certificates (PEM chain)', responses: binary('application/pem-certificate-chain', 'the chain') } },
    '/pki/issuing.cer': { servers, get: { ...open, operationId: 'issuingCertificate', summary: 'The issuing CA certificate (DER)', responses: binary('application/pkix-cert', 'the certificate') } },
    '/pki/crl': { servers, get: { ...open, operationId: 'crl', summary: 'The complete CRL (DER), signed by the issuing CA', responses: binary('application/pkix-crl', 'the CRL') } },
    '/pki/crl/{partition}': {
      servers,
      get: {
        ...open, operationId: 'crlPartition', summary: 'A partition\'s CRL (CRL_PARTITIONS): the certificates that name it in their distribution point',
        parameters: [{ name: 'partition', in: 'path', required: true, schema: { type: 'integer', minimum: 0, maximum: 4095 } }],
        responses: { ...binary('application/pkix-crl', 'the CRL, with a critical issuing distribution point naming this URL'), 400: json('not a partition number') },
      },
    },
    '/pki/ocsp': {
      servers,
      post: {
        ...open, operationId: 'ocspPost', summary: 'RFC 6960 OCSP',
        requestBody: { required: true, content: { 'application/ocsp-request': { schema: { type: 'string', contentMediaType: 'application/ocsp-request' } } } },
        responses: binary('application/ocsp-response', 'the signed OCSP response (malformedRequest for one that cannot be read)'),
      },
    },
    '/pki/ocsp/{request}': {
      servers,
      get: {
        ...open, operationId: 'ocspGet', summary: 'RFC 6960 OCSP, the request in the URL (base64, URL-encoded)',
        parameters: [{ name: 'request', in: 'path', required: true, schema: { type: 'string' } }],
        responses: binary('application/ocsp-response', 'the signed OCSP response'),
      },
    },
    '/pki/certificates/{serial}': {
      servers,
      get: {
        ...open, operationId: 'certificateStatus', summary: 'A certificate\'s status (never the certificate or its subject)',
        parameters: [serial],
        responses: {
          200: json('the status', {
            type: 'object', required: ['serial', 'status', 'not_before', 'not_after'],
            properties: {
              serial: { type: 'string' }, status: { enum: ['good', 'suspended', 'revoked'] }, not_before: { type: 'string', format: 'date-time' },
              not_after: { type: 'string', format: 'date-time' }, revoked_at: { type: 'string', format: 'date-time' }, revocation_reason: { type: 'string' },
              suspended_at: { type: 'string', format: 'date-time' },
            },
          }),
          400: errorResponse('not a hex serial'), 404: errorResponse('never issued'),
        },
      },
    },
    '/signatures/keys': {
      servers,
      get: {
        security: [], tags: ['signatures'], operationId: 'receiptKeys', summary: 'Every key that signed a receipt (JWKS)',
        responses: { 200: { description: 'the keys', content: { 'application/jwk-set+json': { schema: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } } } } } },
      },
    },
    '/signatures/{id}': {
      servers,
      get: {
        security: [{ institutionToken: [] }], tags: ['signatures'], operationId: 'signatureEvidence', summary: 'A signature made for the calling institution: payload, signature, receipt',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^sig_[A-Za-z0-9_-]{22}$' } }],
        responses: { 200: json('the evidence'), 401: errorResponse('no valid access token'), 404: errorResponse('no such signature for this institution') },
      },
    },
    '/signatures/verify': {
      servers,
      post: {
        security: [], tags: ['signatures'], operationId: 'verifySignature', summary: 'Checks signature evidence and reports the certificate\'s status at signing and now',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['payload', 'signature', 'receipt'] } } } },
        responses: { 200: json('the report'), 400: errorResponse('not signature evidence'), 429: errorResponse('too many checks from this address') },
      },
    },
  }
}
