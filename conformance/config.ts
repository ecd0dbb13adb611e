// The suite's configuration files as the suite reads them: placeholders filled in, and a
// module's `override` applied (DBTestPlanService.getModuleConfig: each top-level key of
// override[module] replaces the config's key of that name, so an override's `browser` list
// replaces the whole default list).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** A `browser` entry: the URL glob of the first page, and the tasks done from there (BrowserControl). */
export interface BrowserEntry {
  match: string
  'match-limit'?: number
  comment?: string
  tasks: BrowserTask[]
}

export interface BrowserTask {
  task: string
  match?: string
  optional?: boolean
  /** [command, selector type, target, ...]: click, text, wait (see BrowserControl.doCommand). */
  commands?: (string | number)[][]
}

export interface Placeholders {
  /** PostCert's host (and port), as https://{POSTCERT_HOST}/ is written. */
  host: string
  /** The suite's origin: its callbacks are {SUITE_ORIGIN}/test/a/<alias>/callback. */
  suiteOrigin: string
  initialAccessToken?: string
  fapiClients?: { id: string; privateJwk: Json }[]
  /** Replaces "https://{POSTCERT_HOST}" as a whole (a test's http://127.0.0.1:port). */
  origin?: string
}

/** The configuration with every {PLACEHOLDER} filled in. */
export function fillPlaceholders(value: Json, vars: Placeholders): Json {
  if (typeof value === 'string') {
    const jwk = /^\{FAPI_CLIENT_(\d)_PRIVATE_JWK\}$/.exec(value)
    if (jwk) return vars.fapiClients?.[Number(jwk[1]) - 1]?.privateJwk ?? value
    let text = vars.origin ? value.replaceAll('https://{POSTCERT_HOST}', vars.origin) : value
    text = text.replaceAll('{POSTCERT_HOST}', vars.host).replaceAll('{SUITE_ORIGIN}', vars.suiteOrigin)
    if (vars.initialAccessToken) text = text.replaceAll('{INITIAL_ACCESS_TOKEN}', vars.initialAccessToken)
    return text.replace(/\{FAPI_CLIENT_(\d)_ID\}/g, (whole, n: string) => vars.fapiClients?.[Number(n) - 1]?.id ?? whole)
  }
  if (Array.isArray(value)) return value.map((v) => fillPlaceholders(v, vars))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, vars)]))
  return value
}

/** What the suite gives a module: the configuration with that module's override applied. */
export function moduleConfig(config: Record<string, Json>, module: string): Record<string, Json> {
  const { override, ...rest } = config
  const own = (override as Record<string, Record<string, Json>> | undefined)?.[module] ?? {}
  return { ...rest, ...own }
}
