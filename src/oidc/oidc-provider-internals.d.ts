// The parts of oidc-provider's own modules that src/oidc/opaque-tokens.ts reaches (the package
// has no `exports` map, so its files are importable; @types/oidc-provider describes only its root).
declare module 'oidc-provider/lib/actions/introspection.js' {
  const middleware: unknown[]
  export default middleware
}
declare module 'oidc-provider/lib/actions/revocation.js' {
  const middleware: unknown[]
  export default middleware
}
declare module 'oidc-provider/lib/shared/reject_structured_tokens.js' {
  import type { KoaContextWithOIDC } from 'oidc-provider'
  export default function rejectStructuredTokens(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void>
}
