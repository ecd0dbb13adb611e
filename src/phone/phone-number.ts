/**
 * Korean mobile numbers in any usual form (010-1234-5678, 01012345678, +82 10 1234 5678,
 * +82-010-1234-5678) as E.164 (+821012345678). Returns undefined for anything else.
 * Mobile prefixes: 010 (8 digits follow), and the legacy 011, 016, 017, 018, 019 (7 or 8).
 */
export function normalizeKoreanMobile(input: string): string | undefined {
  const compact = input.replace(/[\s().-]/g, '')
  let national: string
  if (/^\+82\d+$/.test(compact)) national = compact.slice(3).replace(/^0/, '')
  else if (/^0082\d+$/.test(compact)) national = compact.slice(4).replace(/^0/, '')
  else if (/^0\d+$/.test(compact)) national = compact.slice(1)
  else return undefined
  if (/^10\d{8}$/.test(national) || /^1[16789]\d{7,8}$/.test(national)) return `+82${national}`
  return undefined
}

/** +821012345678 -> 010-1234-5678, for display. */
export function formatKoreanMobile(e164: string): string {
  const national = `0${e164.slice(3)}`
  return national.length === 11
    ? `${national.slice(0, 3)}-${national.slice(3, 7)}-${national.slice(7)}`
    : `${national.slice(0, 3)}-${national.slice(3, 6)}-${national.slice(6)}`
}

/** +821012345678 -> 010-****-5678: enough to recognise one's own number, for pages, logs and audit. */
export function maskPhone(e164: string): string {
  return formatKoreanMobile(e164).replace(/-\d+-/, '-****-')
}
