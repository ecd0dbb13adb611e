/**
 * A value from outside (a request parameter, JSON, client metadata) as text: itself when it is a
 * string, a number's digits, else `fallback`. Never "[object Object]" or "undefined".
 */
export function asText(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return fallback
}
