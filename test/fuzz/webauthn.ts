// WebAuthn shapes: assertions and registrations with random parts.

import fc from 'fast-check'
import { b64uBytes, text, type Arb } from './wire.ts'

/** The shape of a WebAuthn assertion or registration, with random parts. */
export const webauthnResponse = (kind: 'get' | 'create'): Arb<unknown> => fc.record<Record<string, unknown>>({
  id: fc.oneof(b64uBytes(), text), rawId: fc.oneof(b64uBytes(), text), type: fc.oneof(fc.constant('public-key'), text),
  response: fc.record<Record<string, unknown>>({
    clientDataJSON: fc.oneof(
      { arbitrary: fc.record({
        type: fc.oneof(fc.constant(`webauthn.${kind}`), text), challenge: fc.oneof(b64uBytes(), text), origin: fc.oneof(fc.constant('{{issuer}}'), text),
        crossOrigin: fc.boolean(), topOrigin: text,
      }, { requiredKeys: [] }).map((data) => ({ $b64u: data })), weight: 4 },
      { arbitrary: fc.oneof(b64uBytes(), text), weight: 1 },
    ),
    ...(kind === 'get'
      ? { authenticatorData: fc.oneof(b64uBytes(120), text), signature: fc.oneof(b64uBytes(80), text), userHandle: fc.oneof(b64uBytes(), fc.constant(null), text) }
      : { attestationObject: fc.oneof(b64uBytes(300), text), transports: fc.array(fc.oneof(fc.constantFrom('usb', 'internal', 'hybrid'), text), { maxLength: 3 }), publicKey: b64uBytes(), publicKeyAlgorithm: fc.oneof(fc.constant(-7), fc.integer()) }),
  }, { requiredKeys: [] }),
  clientExtensionResults: fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 })),
  authenticatorAttachment: fc.oneof(fc.constantFrom('platform', 'cross-platform'), text),
}, { requiredKeys: [] })
