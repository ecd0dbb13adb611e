import { barChart } from '../ops/chart.ts'
import type { DailyTally } from '../ops/daily-tally.ts'
import type { Clock } from '../util/clock.ts'
import { koreanDate } from '../util/korean-time.ts'

/** The dashboard shows this many days, today included. */
export const DASHBOARD_DAYS = 14
/** A chart stacks at most this many labels; the rest are summed as "other". */
const MAX_SERIES = 5

/** One chart of the dashboard: its heading and the SVG (markup made by ops/chart.ts, every text escaped). */
export interface DashboardChart {
  id: string
  heading: string
  total: number
  svg: string
}

/** The charts and what each counts (daily_tally metrics). */
const CHARTS = [
  { id: 'issued', metric: 'issued' },
  { id: 'logins', metric: 'login' },
  { id: 'signatures', metric: 'signature' },
  { id: 'failures', metric: 'login_failure' },
  { id: 'status', metric: 'status' },
] as const

/**
 * The operator dashboard: issuance, logins, signatures, refused logins by reason and status
 * changes over the last 14 Korean days, one stacked bar chart each, drawn on the server.
 * `message` gives the page's texts (console.chart.*, and a label's name when there is one).
 */
export async function dashboard(tally: DailyTally, clock: Clock, message: (key: string) => string): Promise<DashboardChart[]> {
  const today = clock.now().getTime()
  const days = Array.from({ length: DASHBOARD_DAYS }, (_, i) => koreanDate(new Date(today - (DASHBOARD_DAYS - 1 - i) * 86400_000)))
  const labelName = (label: string) => {
    const key = `console.label.${label}`
    const text = message(key)
    return text === key ? label : text
  }
  const window = await tally.read(days[0]!)
  return CHARTS.map(({ id, metric }) => {
    const byLabel = new Map<string, number[]>()
    for (const row of window) {
      if (row.metric !== metric) continue
      const index = days.indexOf(row.day)
      if (index < 0) continue
      const values = byLabel.get(row.label) ?? Array<number>(days.length).fill(0)
      values[index]! += Number(row.count)
      byLabel.set(row.label, values)
    }
    // The largest labels first; beyond five, the rest as one "other" series.
    const ranked = [...byLabel].sort((a, b) => sum(b[1]) - sum(a[1]))
    const shown = ranked.slice(0, MAX_SERIES).map(([label, values]) => ({ name: labelName(label), values }))
    const rest = ranked.slice(MAX_SERIES)
    if (rest.length) shown.push({ name: message('console.chart.other'), values: days.map((_, i) => rest.reduce((n, [, v]) => n + v[i]!, 0)) })
    const heading = message(`console.chart.${id}`)
    return {
      id, heading, total: shown.reduce((n, s) => n + sum(s.values), 0),
      svg: barChart({ title: heading, days: days.map((d) => d.slice(5)), series: shown, emptyText: message('console.chart.empty') }),
    }
  })
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)
