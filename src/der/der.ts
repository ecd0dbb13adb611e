// A tiny DER writer and reader: enough for PKCS#8 / PBES2 structures, with no Node APIs, so the
// same code runs in the browser bundle.

export const SEQUENCE = 0x30
export const INTEGER = 0x02
export const OCTET_STRING = 0x04
export const NULL = 0x05
export const OID = 0x06

export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.length, 0)
  const header = length < 0x80 ? [tag, length]
    : length < 0x100 ? [tag, 0x81, length]
      : length < 0x10000 ? [tag, 0x82, length >> 8, length & 0xff]
        : [tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]
  const out = new Uint8Array(header.length + length)
  out.set(header)
  let offset = header.length
  for (const c of contents) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

export function integer(value: number): Uint8Array {
  const bytes: number[] = []
  let v = value
  do {
    bytes.unshift(v & 0xff)
    v = Math.floor(v / 256)
  } while (v > 0)
  if (bytes[0]! & 0x80) bytes.unshift(0)
  return tlv(INTEGER, new Uint8Array(bytes))
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)))
}

export interface Node {
  tag: number
  /** The contents (without tag and length). */
  value: Uint8Array
  /** The whole encoding: tag, length and contents. */
  raw: Uint8Array
  children(): Node[]
}

export class DerError extends Error {
  override name = 'DerError'
}

/** Reads one TLV at `offset`; returns it and the offset after it. */
export function read(data: Uint8Array, offset = 0): { node: Node; end: number } {
  if (offset + 2 > data.length) throw new DerError('truncated')
  const tag = data[offset]!
  let length = data[offset + 1]!
  let start = offset + 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 3 || start + count > data.length) throw new DerError('bad length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + data[start + i]!
    start += count
  }
  if (start + length > data.length) throw new DerError('truncated')
  const value = data.subarray(start, start + length)
  return {
    node: {
      tag, value, raw: data.subarray(offset, start + length),
      children: () => {
        const out: Node[] = []
        let at = 0
        while (at < value.length) {
          const next = read(value, at)
          out.push(next.node)
          at = next.end
        }
        return out
      },
    },
    end: start + length,
  }
}

export function readInteger(node: Node): number {
  if (node.tag !== INTEGER || node.value.length > 6) throw new DerError('expected a small INTEGER')
  return node.value.reduce((n, b) => n * 256 + b, 0)
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
