// The operator console's bar chart: safe to embed (every input escaped, no inline style under the
// page's CSP), readable by a screen reader (title, totals in desc), and drawn to scale.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { barChart } from '../../src/ops/chart.ts'
import type { ChartInput } from '../../src/ops/chart.ts'

const DAYS = ['12-01', '12-02', '12-03']

function chart(overrides: Partial<ChartInput> = {}): string {
  return barChart({ title: 'Daily activity', days: DAYS, series: [{ name: 'login', values: [1, 2, 3] }], emptyText: 'No activity', ...overrides })
}

/** The attributes of every element named `tag` that has `attribute`, in document order. */
function elements(svg: string, tag: string, attribute: string): Record<string, string>[] {
  const found: Record<string, string>[] = []
  for (const [, attrs = ''] of svg.matchAll(new RegExp(`<${tag}\\s([^>]*)>`, 'g'))) {
    const parsed = Object.fromEntries([...attrs.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, k = '', v = '']) => [k, v]))
    if (attribute in parsed) found.push(parsed)
  }
  return found
}
const bars = (svg: string) => elements(svg, 'rect', 'data-series')
/** The y axis labels, bottom first. */
const ticks = (svg: string) => elements(svg, 'text', 'data-tick').map((t) => Number(t['data-tick']))
const axisMax = (largest: number) => Math.max(...ticks(chart({ days: ['d'], series: [{ name: 's', values: [largest] }] })))

/** WCAG relative luminance of '#rrggbb'. */
function luminance(hex: string): number {
  const [r = 0, g = 0, b = 0] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

describe('operator console bar chart', () => {
  it('escapes a hostile title, series name, day and empty text', () => {
    const hostile = '"><script>alert(1)</script>\'&'
    const svg = chart({ title: hostile, days: [hostile, 'b'], series: [{ name: hostile, values: [1, 0] }] })
    assert.ok(!svg.includes('<script'), svg)
    assert.ok(svg.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;&amp;'))
    // The quote did not end the attribute: the data attribute holds the whole (escaped) name.
    const [bar] = bars(svg)
    assert.equal(bar?.['data-series'], '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;&amp;')
    assert.equal(bar?.['data-day'], bar['data-series'])
    assert.ok(!chart({ days: [], series: [], emptyText: '<script>x</script>' }).includes('<script'))
  })

  it('gives every drawn segment its series, day and value, and the totals per series in desc', () => {
    const svg = chart({ series: [{ name: 'login', values: [3, 0, 5] }, { name: 'signature', values: [1, 2, -4] }] })
    assert.deepEqual(bars(svg).map((b) => [b['data-series'], b['data-day'], Number(b['data-value'])]),
      [['login', '12-01', 3], ['signature', '12-01', 1], ['signature', '12-02', 2], ['login', '12-03', 5]])
    assert.match(svg, /<title>signature, 12-02: 2<\/title><\/rect>/)
    assert.match(svg, /<desc id="[^"]+">login: 8, signature: 3<\/desc>/)
  })

  it('draws negative, NaN and infinite values as 0', () => {
    const svg = chart({ series: [{ name: 'login', values: [Number.NaN, Number.POSITIVE_INFINITY, -2] }, { name: 'x', values: [0, 1, 0] }] })
    assert.deepEqual(bars(svg).map((b) => b['data-series']), ['x'])
    assert.match(svg, />login: 0, x: 1</)
  })

  it('draws heights in proportion to the values, stacked one on the other', () => {
    const svg = chart({ series: [{ name: 'a', values: [2, 4, 0] }, { name: 'b', values: [4, 0, 0] }] })
    const [a1, b1, a2] = bars(svg).map((b) => ({ y: Number(b.y), height: Number(b.height) }))
    assert.ok(a1 && b1 && a2)
    assert.ok(Math.abs(a2.height - 2 * a1.height) <= 0.2, `${a2.height} vs 2 × ${a1.height}`)
    assert.ok(Math.abs(b1.height - a2.height) <= 0.2)
    assert.ok(Math.abs(b1.y + b1.height - a1.y) <= 0.1, 'b sits on top of a')
    // The day's total (6) on an axis to 10 fills 60% of the distance from the 0 to the 10 gridline.
    const lines = elements(svg, 'line', 'y1').map((l) => Number(l.y1))
    const full = (lines[0] ?? 0) - (lines.at(-1) ?? 0)
    assert.ok(Math.abs(a1.height + b1.height - 0.6 * full) <= 0.2)
    assert.ok(Math.abs(a1.y + a1.height - (lines[0] ?? 0)) <= 0.1, 'bars stand on the 0 line')
  })

  it('ends the y axis at a nice number at or above the largest stacked total, with integer labels', () => {
    assert.equal(axisMax(7), 10)
    assert.equal(axisMax(120), 200)
    assert.equal(axisMax(0), 1)
    assert.equal(axisMax(0.4), 1)
    assert.equal(axisMax(1), 1)
    assert.equal(axisMax(3), 5)
    assert.equal(axisMax(10), 10)
    assert.equal(axisMax(11), 20)
    assert.equal(axisMax(4999), 5000)
    // Stacked: the total of the day, not the largest single value.
    assert.equal(Math.max(...ticks(chart({ series: [{ name: 'a', values: [4, 0, 0] }, { name: 'b', values: [4, 0, 0] }] }))), 10)
    for (const largest of [1, 2, 3, 7, 15, 120, 333]) {
      const labels = ticks(chart({ days: ['d'], series: [{ name: 's', values: [largest] }] }))
      assert.ok(labels.every(Number.isInteger), `${largest}: ${labels.join(' ')}`)
      assert.equal(labels[0], 0)
      if (largest > 2) assert.ok(labels.length >= 5 && labels.length <= 6, `${largest}: ${labels.join(' ')}`)
    }
  })

  it('shows the empty text and no bars when every value is 0 or there is no series', () => {
    for (const svg of [chart({ series: [{ name: 'login', values: [0, 0, 0] }] }), chart({ series: [] }), chart({ days: [], series: [] })]) {
      assert.match(svg, /<text[^>]*>No activity<\/text>/)
      assert.doesNotMatch(svg, /<rect[^>]*data-series/)
    }
    assert.doesNotMatch(chart(), />No activity</)
  })

  it('labels the chart with ids that are deterministic and differ between charts', () => {
    const svg = chart()
    assert.equal(svg, chart())
    const [, titleId, descId] = /aria-labelledby="([^"]+)" aria-describedby="([^"]+)"/.exec(svg) ?? []
    assert.match(titleId ?? '', /^chart-[0-9a-f]{8}-title$/)
    assert.ok(svg.includes(`<title id="${titleId}">Daily activity</title>`))
    assert.ok(svg.includes(`<desc id="${descId}">login: 6</desc>`))
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 '))
    assert.ok(svg.endsWith('</svg>'))
    const other = /aria-labelledby="([^"]+)"/.exec(chart({ title: 'Signatures' }))?.[1]
    assert.notEqual(other, titleId)
  })

  it('uses no inline style, and series colours readable against white', () => {
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, values: [1, 1, 1] }))
    const svg = chart({ series: six })
    assert.doesNotMatch(svg, /style/i)
    const fills = six.map((s) => bars(svg).find((b) => b['data-series'] === s.name)?.fill ?? '')
    assert.equal(new Set(fills).size, 6)
    for (const fill of fills) assert.ok(1.05 / (luminance(fill) + 0.05) >= 3, `${fill} against white`)
    // The legend: a square of the series' colour and its name.
    for (const [i, s] of six.entries()) assert.ok(svg.includes(`fill="${fills[i]}"/><text`) && svg.includes(`>${s.name}</text>`))
  })

  it('thins the day labels of a long range so they do not overlap', () => {
    const days = Array.from({ length: 30 }, (_, i) => `12-${String(i + 1).padStart(2, '0')}`)
    const labels = (svg: string) => days.filter((d) => svg.includes(`>${d}</text>`))
    const long = labels(chart({ days, series: [{ name: 'a', values: days.map(() => 1) }] }))
    assert.ok(long.length <= 14 && long.length >= 7, long.join(' '))
    assert.equal(long[0], '12-01')
    const short = days.slice(0, 14)
    assert.equal(labels(chart({ days: short, series: [{ name: 'a', values: short.map(() => 1) }] })).length, 14)
  })

  it('throws on a series whose values do not match the days, or on more series than colours', () => {
    assert.throws(() => chart({ series: [{ name: 'login', values: [1, 2] }] }), /login/)
    assert.throws(() => chart({ series: Array.from({ length: 7 }, (_, i) => ({ name: `s${i}`, values: [1, 1, 1] })) }))
  })
})
