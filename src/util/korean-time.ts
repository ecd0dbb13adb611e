/** Korea Standard Time, UTC+9 all year (no daylight saving): the time PostCert's people read. */
const KST_OFFSET_MS = 9 * 60 * 60 * 1000

/** The date in Korea (YYYY-MM-DD) at this instant. */
export const koreanDate = (at: Date): string => new Date(at.getTime() + KST_OFFSET_MS).toISOString().slice(0, 10)

/** The time of day in Korea (HH:MM) at this instant. */
export const koreanClock = (at: Date): string => new Date(at.getTime() + KST_OFFSET_MS).toISOString().slice(11, 16)
