/**
 * Daily stacked bar charts for the operator console, drawn on the server as one plain SVG string.
 *
 * Why on the server and without a library: the console runs under `style-src 'self'`, so the SVG
 * uses presentation attributes only (no style attribute, no <style>), needs no script and adds no
 * dependency. Why <title> and <desc>: a screen reader hears the chart's name and the totals per
 * series rather than a mute picture; each bar segment also carries its own <title> (a tooltip) and
 * data-* attributes with its value. Why a hash for the ids: two charts on one page must not share
 * ids, and the same input must give the same bytes (cacheable, testable), so neither a counter
 * nor randomness will do.
 */
import { createHash } from 'node:crypto'

export interface ChartSeries { name: string; values: number[] }
export interface ChartInput {
  /** Accessible name (already localized, plain text). */
  title: string
  /** X labels (already formatted, e.g. '12-01'), oldest first. */
  days: string[]
  /** 1..6 series, one value per day, stacked per day in this order (bottom first). */
  series: ChartSeries[]
  /** Shown instead of bars when every value is 0 or there is no series. */
  emptyText: string
}

/** Six colours with a contrast of at least 3:1 against white (WCAG 1.4.11); series i takes [i]. */
const PALETTE = ['#1f5fbf', '#c0392b', '#1e8449', '#8e44ad', '#b9770e', '#117a8b'] as const
const WIDTH = 640
const LEFT = 44 // room for the y labels
const RIGHT = 12
const TOP = 12
const PLOT_HEIGHT = 200
const LEGEND_ROW = 18
/** More x labels than this would overlap: show every k-th. */
const MAX_X_LABELS = 14
const INK = '#333333'
const GRID = '#d0d0d0'

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
/** For text content and attribute values alike (every attribute here is double-quoted). */
function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}

/** Counts only: a negative, NaN or infinite value is a bug upstream, drawn as nothing. */
function clean(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0
}

/** One decimal place is finer than a pixel and keeps the output short. */
function round(n: number): number {
  return Math.round(n * 10) / 10
}

/** The smallest of 1, 2, 5 × 10^n at or above the largest stacked total, at least 1. */
function niceMax(largest: number): number {
  let magnitude = 1
  while (magnitude * 10 <= largest) magnitude *= 10
  for (const m of [1, 2, 5]) if (m * magnitude >= largest) return m * magnitude
  return 10 * magnitude
}

/** Divisions of the y axis that keep every label an integer: 5 or 4 where they fit, else 1 per unit. */
function divisions(max: number): number {
  return max % 5 === 0 ? 5 : max % 4 === 0 ? 4 : max
}

/** A stacked bar chart as an SVG string, safe to embed in HTML (every text escaped). */
export function barChart(input: ChartInput): string {
  const { title, days, series, emptyText } = input
  if (series.length > PALETTE.length) throw new Error(`barChart: at most ${PALETTE.length} series, got ${series.length}`)
  for (const s of series) {
    if (s.values.length !== days.length) {
      throw new Error(`barChart: series "${s.name}" has ${s.values.length} values for ${days.length} days`)
    }
  }
  const values = series.map((s) => s.values.map(clean))
  const totals = values.map((v) => v.reduce((a, b) => a + b, 0))
  const dayTotals = days.map((_, d) => values.reduce((sum, v) => sum + (v[d] ?? 0), 0))

  const id = `chart-${createHash('sha256').update(JSON.stringify([title, days, series.map((s) => s.name)])).digest('hex').slice(0, 8)}`
  const desc = series.length ? series.map((s, i) => `${s.name}: ${round(totals[i] ?? 0)}`).join(', ') : emptyText
  const legendTop = TOP + PLOT_HEIGHT + 32
  const height = legendTop + LEGEND_ROW * series.length + 4
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" role="img"`
    + ` aria-labelledby="${id}-title" aria-describedby="${id}-desc" font-family="sans-serif" font-size="13" fill="${INK}">`
    + `<title id="${id}-title">${escapeXml(title)}</title><desc id="${id}-desc">${escapeXml(desc)}</desc>`

  const max = niceMax(Math.max(0, ...dayTotals))
  const base = TOP + PLOT_HEIGHT
  const scale = PLOT_HEIGHT / max
  const slot = (WIDTH - LEFT - RIGHT) / days.length
  const barWidth = round(slot * 0.7)
  const parts: string[] = []

  const steps = divisions(max)
  for (let i = 0; i <= steps; i++) {
    const tick = (max / steps) * i
    const y = round(base - tick * scale)
    parts.push(`<line x1="${LEFT}" y1="${y}" x2="${WIDTH - RIGHT}" y2="${y}" stroke="${GRID}" stroke-width="1"/>`,
      `<text x="${LEFT - 6}" y="${round(y + 4)}" text-anchor="end" data-tick="${tick}">${tick}</text>`)
  }

  const every = days.length > MAX_X_LABELS ? Math.ceil(days.length / MAX_X_LABELS) : 1
  days.forEach((day, d) => {
    const x = round(LEFT + slot * d + (slot - barWidth) / 2)
    let stacked = 0
    series.forEach((s, i) => {
      const value = values[i]?.[d] ?? 0
      if (value === 0) return
      // From the running sum, so rounding does not add up along the stack.
      const y0 = round(base - stacked * scale)
      stacked += value
      const y1 = round(base - stacked * scale)
      parts.push(`<rect x="${x}" y="${y1}" width="${barWidth}" height="${round(y0 - y1)}" fill="${PALETTE[i] ?? INK}"`
        + ` stroke="#ffffff" stroke-width="0.5" data-series="${escapeXml(s.name)}" data-day="${escapeXml(day)}" data-value="${value}">`
        + `<title>${escapeXml(`${s.name}, ${day}: ${value}`)}</title></rect>`)
    })
    if (d % every === 0) {
      parts.push(`<text x="${round(LEFT + slot * (d + 0.5))}" y="${base + 16}" text-anchor="middle">${escapeXml(day)}</text>`)
    }
  })

  // Empty: the axes keep the chart's size on the dashboard, and the text says why there are no bars.
  if (!dayTotals.some((t) => t > 0)) {
    parts.push(`<text x="${round(LEFT + (WIDTH - LEFT - RIGHT) / 2)}" y="${TOP + PLOT_HEIGHT / 2}" text-anchor="middle" font-size="16">${escapeXml(emptyText)}</text>`)
  }

  series.forEach((s, i) => {
    const y = legendTop + LEGEND_ROW * i
    parts.push(`<rect x="${LEFT}" y="${y}" width="12" height="12" fill="${PALETTE[i] ?? INK}"/>`,
      `<text x="${LEFT + 18}" y="${y + 10}">${escapeXml(s.name)}</text>`)
  })

  return `${head}${parts.join('')}</svg>`
}
