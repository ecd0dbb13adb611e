import { koreanDate } from '../util/korean-time.ts'
import { DAY_MS } from './constants.ts'

/**
 * How long a certificate has left, the two ways PostCert says it, side by side:
 * - daysLeft: whole days, rounded up, never below 0 (the portal's "N일 남음", the renewal notice
 *   at login, the enrollment's done page): a certificate with an hour left has 1 day;
 * - calendarDaysLeft: Korean calendar days from today to the expiry date (a text message's
 *   "N일 후(YYYY-MM-DD)"), 0 on the day itself, with koreanDate the date it names.
 */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.max(0, Math.ceil((notAfter.getTime() - now.getTime()) / DAY_MS))
}

export function calendarDaysLeft(notAfter: Date, now: Date): number {
  return Math.round((Date.parse(koreanDate(notAfter)) - Date.parse(koreanDate(now))) / DAY_MS)
}
