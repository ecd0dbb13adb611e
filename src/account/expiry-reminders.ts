import type { Logger } from 'pino'
import { DAY_MS } from '../ca/constants.ts'
import { calendarDaysLeft } from '../ca/days-left.ts'
import { koreanDate } from '../util/korean-time.ts'
import type { Database } from '../db/database.ts'
import type { SmsGateway } from '../phone/sms/sms-gateway.ts'
import type { Clock } from '../util/clock.ts'

/** Days before expiry at which a subscriber is texted, largest first. */
export const REMINDER_DAYS = [30, 7, 1] as const

/**
 * A claim still unsent after this long was left by an instance that died, or whose send failed,
 * between claim and send; a later run takes it over. Far longer than one send may take (the HTTP
 * gateway gives up after three tries of 5 seconds), so a live instance's claim is never taken.
 */
export const REMINDER_CLAIM_STALE_SECONDS = 5 * 60

/** Certificates read per query. */
const BATCH_SIZE = 100

export interface ExpiryRemindersDeps {
  db: Database
  clock: Clock
  sms: SmsGateway
  /** The message links `${issuer}/account` and nothing else. */
  issuer: string
  /** The service's name the message opens with (the operator's, config `brand`). */
  service: string
  logger?: Logger
}

interface Due {
  serial: string
  not_after: Date
  phone_e164: string
  /** Null when nobody has claimed the reminder; else a stale claim. */
  claimed_at: Date | null
}

/**
 * Texts subscribers 30, 7 and 1 days before a certificate expires, each reminder once, however
 * many instances run the job at the same time.
 *
 * When: the d-day reminder is due while a good, unreplaced certificate has at most d days left and
 * more than the next smaller threshold (30: (7, 30], 7: (1, 7], 1: (0, 1]). A reminder missed
 * while the job was down is sent late while it is still the current one and skipped once the next
 * is due: down from day 30 to day 5, the subscriber gets only the 7-day reminder, saying 5 days.
 * Revoked (so renewed) certificates get none; a held one none while held.
 *
 * Once: a reminder is a row of expiry_reminder, keyed (serial, days). An instance sends only when
 * its INSERT ... ON CONFLICT DO NOTHING returned the row, so of racing instances exactly one
 * sends; sent_at is set when the gateway took the message. A claim left without sent_at is taken
 * over after REMINDER_CLAIM_STALE_SECONDS by an UPDATE whose WHERE (still unsent, still stale)
 * only one instance can match. The retry carries the same idempotency key (expiry:<serial>:<days>),
 * so a gateway that took the first copy before the crash drops the second.
 *
 * Claims are made one at a time, just before the send, rather than a batch at once: a claimed
 * batch sent one by one through a slow gateway could go stale before its end and be sent by a
 * second instance too, leaving only the idempotency key between the subscriber and two texts.
 */
export class ExpiryReminders {
  readonly #db: Database
  readonly #clock: Clock
  readonly #sms: SmsGateway
  readonly #issuer: string
  readonly #service: string
  readonly #logger: Logger | undefined

  constructor(deps: ExpiryRemindersDeps) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#sms = deps.sms
    this.#issuer = deps.issuer
    this.#service = deps.service
    this.#logger = deps.logger
  }

  /**
   * Sends the reminders due now; returns how many this run sent. Stops at the first failed send
   * (the gateway is likely down, and each try may take seconds); that claim is retried once stale.
   */
  async run(): Promise<number> {
    const now = this.#clock.now()
    let sent = 0
    for (const [i, days] of REMINDER_DAYS.entries()) {
      const next = REMINDER_DAYS[i + 1] ?? 0
      let after: Due | undefined
      for (;;) {
        const page = await this.#due(now, days, next, after)
        for (const due of page) {
          if (!await this.#claim(due, days)) continue
          try {
            await this.#sms.send(due.phone_e164, reminderText(due.not_after, now, this.#issuer, this.#service), { idempotencyKey: `expiry:${due.serial}:${days}` })
          } catch (err) {
            this.#logger?.warn({ err, serial: due.serial, days }, 'expiry reminder not sent; retried later')
            return sent
          }
          if (await this.#markSent(due.serial, days)) sent++
        }
        if (page.length < BATCH_SIZE) break
        after = page[page.length - 1]
      }
    }
    return sent
  }

  /**
   * One page of due `days` reminders after `after`, in (not_after, serial) order: certificates
   * with (next, days] days left whose reminder is unclaimed or stale.
   */
  async #due(now: Date, days: number, next: number, after: Due | undefined): Promise<Due[]> {
    const daysFromNow = (d: number) => new Date(now.getTime() + d * DAY_MS)
    const staleBefore = new Date(now.getTime() - REMINDER_CLAIM_STALE_SECONDS * 1000)
    let query = this.#db.selectFrom('certificate as c')
      .innerJoin('subscriber as s', 's.id', 'c.subscriber_id')
      .leftJoin('expiry_reminder as r', (join) => join.onRef('r.certificate_serial', '=', 'c.serial').on('r.days_before', '=', days))
      .select(['c.serial', 'c.not_after', 's.phone_e164', 'r.claimed_at'])
      .where('c.status', '=', 'good').where('c.replaced_by', 'is', null)
      .where('c.not_after', '>', daysFromNow(next)).where('c.not_after', '<=', daysFromNow(days))
      .where((eb) => eb.or([eb('r.claimed_at', 'is', null), eb.and([eb('r.sent_at', 'is', null), eb('r.claimed_at', '<=', staleBefore)])]))
    if (after) query = query.where((eb) => eb(eb.refTuple('c.not_after', 'c.serial'), '>', eb.tuple(after.not_after, after.serial)))
    // certificate_expiry_idx (not_after, serial) where good and unreplaced; subscriber and
    // expiry_reminder by their primary keys.
    return await query.orderBy('c.not_after').orderBy('c.serial').limit(BATCH_SIZE).execute()
  }

  /** Takes the reminder for this instance: a new claim, or a stale one. False if another has it. */
  async #claim(due: Due, days: number): Promise<boolean> {
    const now = this.#clock.now()
    if (due.claimed_at === null) {
      const won = await this.#db.insertInto('expiry_reminder')
        .values({ certificate_serial: due.serial, days_before: days, claimed_at: now, sent_at: null })
        .onConflict((oc) => oc.columns(['certificate_serial', 'days_before']).doNothing())
        .returning('certificate_serial').executeTakeFirst() // expiry_reminder_pk
      return won !== undefined
    }
    // Racing instances queue on the row lock; the later one's WHERE no longer holds (claimed_at moved).
    const staleBefore = new Date(now.getTime() - REMINDER_CLAIM_STALE_SECONDS * 1000)
    const retaken = await this.#db.updateTable('expiry_reminder').set({ claimed_at: now })
      .where('certificate_serial', '=', due.serial).where('days_before', '=', days)
      .where('sent_at', 'is', null).where('claimed_at', '<=', staleBefore)
      .returning('certificate_serial').executeTakeFirst() // expiry_reminder_pk
    return retaken !== undefined
  }

  /** False when another instance, having taken over a slow claim, marked it first. */
  async #markSent(serial: string, days: number): Promise<boolean> {
    const result = await this.#db.updateTable('expiry_reminder').set({ sent_at: this.#clock.now() })
      .where('certificate_serial', '=', serial).where('days_before', '=', days).where('sent_at', 'is', null)
      .executeTakeFirst() // expiry_reminder_pk
    return result.numUpdatedRows > 0n
  }
}

/** The reminder's text: the service's name, days left and the expiry date in Korean time, and the portal's address. */
export function reminderText(notAfter: Date, now: Date, issuer: string, service: string): string {
  const daysLeft = calendarDaysLeft(notAfter, now)
  const when = daysLeft === 0 ? '오늘' : `${daysLeft}일 후`
  return `[${service}] 인증서가 ${when}(${koreanDate(notAfter)}) 만료됩니다. 갱신: ${issuer}/account`
}
