// The certificate password policy of the public guide: letters and digits combined at least; the
// stronger passwords mix upper and lower case, digits and symbols. Shared by the browser (it is
// checked there, since the password never leaves it) and by tests.

export type PasswordProblem = 'too_short' | 'letters_and_digits' | 'repetitive' | 'common' | 'mismatch'
export type PasswordStrength = 'weak' | 'fair' | 'strong'

export const MIN_PASSWORD_LENGTH = 10

const COMMON = ['password', 'qwerty', 'iloveyou', 'admin', 'letmein', 'welcome', 'postcert', 'korea', 'sarang', 'abc123', 'qwer1234', 'asdf1234', 'zxcv1234', '1q2w3e4r']

export function checkPassword(password: string, confirmation?: string): { ok: boolean; strength: PasswordStrength; problems: PasswordProblem[] } {
  const problems: PasswordProblem[] = []
  if ([...password].length < MIN_PASSWORD_LENGTH) problems.push('too_short')
  if (!/\p{L}/u.test(password) || !/\p{N}/u.test(password)) problems.push('letters_and_digits')
  if (/(.)\1{3,}/u.test(password) || hasRun(password.toLowerCase(), 5)) problems.push('repetitive')
  const lower = password.toLowerCase()
  if (COMMON.some((word) => lower.includes(word))) problems.push('common')
  if (confirmation !== undefined && confirmation !== password) problems.push('mismatch')
  const classes = [/\p{Ll}/u, /\p{Lu}/u, /\p{N}/u, /[^\p{L}\p{N}]/u].filter((re) => re.test(password)).length
  const length = [...password].length
  const strength: PasswordStrength = problems.some((p) => p !== 'mismatch') ? 'weak'
    : (length >= 12 && classes >= 3) || length >= 16 ? 'strong' : 'fair'
  return { ok: problems.length === 0, strength, problems }
}

/** A run like 12345 or abcde (ascending or descending) of at least `n` characters. */
function hasRun(text: string, n: number): boolean {
  let up = 1
  let down = 1
  for (let i = 1; i < text.length; i++) {
    const d = text.charCodeAt(i) - text.charCodeAt(i - 1)
    up = d === 1 ? up + 1 : 1
    down = d === -1 ? down + 1 : 1
    if (up >= n || down >= n) return true
  }
  return false
}
