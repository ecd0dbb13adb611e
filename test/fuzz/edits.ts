// Edits to the fixtures' valid OCSP request and signature evidence (the generators' {ocsp} and
// {evidence} bodies), applied when a request is sent.

import type { ByteEdit, JsonEdit } from './fuzz-request.ts'

export function editBytes(base: Uint8Array, edits: ByteEdit[]): Uint8Array {
  const bytes = [...base]
  for (const { at, op, byte } of edits) {
    const i = bytes.length ? at % bytes.length : 0
    if (op === 'xor' && bytes.length) bytes[i] = bytes[i]! ^ byte
    if (op === 'insert') bytes.splice(i, 0, byte)
    if (op === 'delete') bytes.splice(i, 1)
    if (op === 'truncate') bytes.length = i
  }
  return Uint8Array.from(bytes)
}

/** Applies each edit to one node of the JSON (chosen by `pick` among all nodes, depth first). */
export function editJson(base: unknown, edits: JsonEdit[]): unknown {
  const root = { value: structuredClone(base) }
  for (const { pick, op, value } of edits) {
    const nodes: Array<[parent: Record<string, unknown> | unknown[], key: string | number]> = []
    const walk = (parent: Record<string, unknown> | unknown[], key: string | number) => {
      nodes.push([parent, key])
      const child = (parent as Record<string | number, unknown>)[key]
      if (child && typeof child === 'object') for (const k of Object.keys(child)) walk(child as Record<string, unknown>, Array.isArray(child) ? Number(k) : k)
    }
    walk(root, 'value')
    const [parent, key] = nodes[pick % nodes.length]!
    const target = parent as Record<string | number, unknown>
    const current = target[key]
    if (op === 'replace') target[key] = value
    if (op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1)
      else delete target[key]
    }
    if (op === 'flip') {
      target[key] = typeof current === 'string' && current.length ? current.slice(0, -1) + (current.endsWith('A') ? 'B' : 'A')
        : typeof current === 'number' ? current + 1 : typeof current === 'boolean' ? !current : value
    }
    if (op === 'wrap') target[key] = [current]
  }
  return root.value
}
