/* global document */
// Two small SVG charts. Colours come from classes in app.css; each chart carries a text summary
// (aria-label) and prints its figures, so nothing is conveyed by colour alone.

const NS = 'http://www.w3.org/2000/svg'

function svg (tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(typeof c === 'string' ? document.createTextNode(c) : c)
  return el
}

/** Horizontal bars, one per `{ label, value, cls }`, scaled to the largest value. */
export function barsChart (title, items) {
  const rowH = 26
  const labelW = 96
  const valueW = 56
  const width = 480
  const max = Math.max(1, ...items.map(i => i.value))
  const plotW = width - labelW - valueW
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${items.length * rowH}`, class: 'chart chart-bars', role: 'img',
    'aria-label': `${title}: ${items.map(i => `${i.label} ${i.value}`).join(', ')}`
  })
  items.forEach((it, i) => {
    const y = i * rowH
    root.append(
      svg('text', { x: labelW - 8, y: y + rowH / 2 + 5, 'text-anchor': 'end', class: 'chart-label' }, it.label),
      svg('rect', { x: labelW, y: y + 4, width: Math.max(it.value > 0 ? 2 : 0, (plotW * it.value) / max), height: rowH - 8, rx: 3, class: `bar ${it.cls ?? ''}` }),
      svg('text', { x: width - valueW + 6, y: y + rowH / 2 + 5, class: 'chart-value' }, String(it.value)))
  })
  return root
}

/** Vertical bars over time buckets `{ label, value }` (e.g. calls started per hour), with a few x labels. */
export function columnsChart (title, buckets) {
  const width = 480
  const height = 160
  const base = height - 22
  const top = 14
  const max = Math.max(1, ...buckets.map(b => b.value))
  // At least 12 slots, so one or two hours do not make one bar as wide as the chart.
  const slot = width / Math.max(12, buckets.length)
  const every = Math.ceil(buckets.length / 8)
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart chart-columns', role: 'img',
    'aria-label': `${title}: ${buckets.map(b => `${b.label} ${b.value}`).join(', ') || 'no calls yet'}`
  })
  root.append(svg('line', { x1: 0, x2: width, y1: base, y2: base, class: 'axis' }))
  buckets.forEach((b, i) => {
    const hgt = ((base - top) * b.value) / max
    const x = i * slot
    root.append(svg('rect', { x: x + slot * 0.15, y: base - hgt, width: slot * 0.7, height: hgt, class: 'bar bar-calls' }))
    if (b.value > 0) root.append(svg('text', { x: x + slot / 2, y: base - hgt - 3, 'text-anchor': 'middle', class: 'chart-value' }, String(b.value)))
    if (i % every === 0) root.append(svg('text', { x: x + slot / 2, y: height - 6, 'text-anchor': 'middle', class: 'chart-label' }, b.label))
  })
  return root
}

/**
 * Calls per hour from a list of calls: one bucket per hour from the first call to the last
 * (at most the 48 latest hours), counting each call at its `started_at` (`created_at` when not
 * started yet).
 */
export function perHour (calls, timeZone) {
  const HOUR = 3600_000
  const times = calls.map(c => Date.parse(c.started_at ?? c.created_at)).filter(Number.isFinite)
  if (times.length === 0) return []
  const last = Math.floor(Math.max(...times) / HOUR)
  const first = Math.max(Math.floor(Math.min(...times) / HOUR), last - 47)
  const counts = new Map()
  for (const t of times) {
    const k = Math.floor(t / HOUR)
    if (k >= first) counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  const fmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone })
  const out = []
  for (let k = first; k <= last; k++) out.push({ label: fmt.format(new Date(k * HOUR)), value: counts.get(k) ?? 0 })
  return out
}
