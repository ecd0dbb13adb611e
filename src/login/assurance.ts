// Assurance levels (acr) and authentication methods (amr, RFC 8176) by holder.

export const ACR_HIGH = 'urn:postcert:loa:high'
export const ACR_SUBSTANTIAL = 'urn:postcert:loa:substantial'
/** Lowest first: a request for substantial is met by high too. */
export const ACR_VALUES = [ACR_SUBSTANTIAL, ACR_HIGH] as const

export function assuranceOf(holder: 'passkey' | 'file'): { acr: string; amr: string[] } {
  return holder === 'passkey'
    // hardware-bound key, with the user verified on the device (PIN or biometrics)
    ? { acr: ACR_HIGH, amr: ['hwk', 'user', 'mfa'] }
    // software key, unlocked with the certificate password
    : { acr: ACR_SUBSTANTIAL, amr: ['swk', 'pwd'] }
}
