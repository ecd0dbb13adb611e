import { koreanClock, koreanDate } from '../util/korean-time.ts'
import type { Locale, Views } from '../http/views.ts'
import type { CertificateOverview } from './account-service.ts'

/** How the portal's pages show dates, times and certificates: in Korea's time, where its citizens are. */
export const day = koreanDate
export const time = (d: Date) => `${koreanDate(d)} ${koreanClock(d)} KST`

export function certificateView(c: CertificateOverview, lang: Locale, views: Views) {
  const expired = c.daysLeft === 0
  const status = c.status === 'revoked' ? 'revoked' : c.status === 'hold' ? 'suspended' : expired ? 'expired' : c.replacedBy ? 'replaced' : 'good'
  return {
    serial: c.serial, shortSerial: `${c.serial.slice(0, 8)}…`, holder: views.message(lang, `account.holder.${c.holder}`),
    level: views.message(lang, `assurance.${c.level}`), levelHelp: views.message(lang, `assurance.${c.level}_help`),
    status, statusText: views.message(lang, `account.status.${status}`), notBefore: day(c.notBefore), notAfter: day(c.notAfter),
    daysLeft: c.daysLeft, lastUsed: c.lastUsedAt ? time(c.lastUsedAt) : views.message(lang, 'account.never'),
    // The holder's name as the certificate gives it (its CN); the whole subject, with the
    // serialNumber attribute (the subscriber id) by name, is for the technical details.
    name: /(?:^|, )CN=([^,]+)/.exec(c.subject)?.[1] ?? '',
    subject: c.subject.replace(/\b2\.5\.4\.5=/, 'serialNumber='), revokedAt: c.revokedAt ? time(c.revokedAt) : undefined,
  }
}
