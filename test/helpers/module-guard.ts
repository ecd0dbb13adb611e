// Loaded with `node --import` into a server under test: a package named in
// POSTCERT_DENIED_PACKAGES (JSON list of paths under node_modules, as package-lock.json names them,
// e.g. "node_modules/typescript") resolves as missing, as it is in the production image. Shows
// that production starts without what its image leaves out (dev dependencies) or should never load
// (the embedded database); a package that looks for an optional one (debug for supports-color)
// goes on as it would there.
import { registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'

const denied = new Set<string>(JSON.parse(process.env.POSTCERT_DENIED_PACKAGES ?? '[]') as string[])

registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context)
    if (result.url.startsWith('file:')) {
      const file = fileURLToPath(result.url)
      // node_modules/a/node_modules/@b/c/… -> each package path from the outermost in.
      const match = /(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*)/.exec(file)
      if (match && denied.has(match[1]!)) {
        throw Object.assign(new Error(`module-guard: ${match[1]} is not in the image (${specifier} from ${context.parentURL ?? 'the entry point'})`), {
          code: context.conditions.includes('require') ? 'MODULE_NOT_FOUND' : 'ERR_MODULE_NOT_FOUND',
        })
      }
    }
    return result
  },
})
