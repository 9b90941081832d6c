/**
 * A small Prometheus registry: counters, gauges (set, or read from a callback at scrape time) and
 * histograms, rendered in the text exposition format 0.0.4. Written here rather than taken from
 * prom-client because the service needs a dozen series and no default process metrics.
 */

export type Labels = Readonly<Record<string, string>>

interface Metric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  /** Sample lines without the HELP/TYPE header; may read the store (scrape-time gauges). */
  samples(): Promise<string[]>
}

function escapeLabel (v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')
}

function labelText (labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {})
  if (extra) pairs.push(extra)
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

/** One key per label set, whatever the order of its names (on every observation: kept cheap). */
function keyOf (labels: Labels | undefined): string {
  if (labels === undefined) return ''
  const names = Object.keys(labels)
  if (names.length > 1) names.sort()
  let key = ''
  for (const n of names) key += `${n}\u0000${labels[n]}\u0001`
  return key
}

function num (n: number): string {
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return Number.isNaN(n) ? 'NaN' : String(n)
}

/** A monotonic count per label set. */
export class Counter implements Metric {
  readonly type = 'counter'
  private readonly values = new Map<string, { labels: Labels | undefined, value: number }>()
  constructor (readonly name: string, readonly help: string) {}

  inc (labels?: Labels, by = 1): void {
    const k = keyOf(labels)
    const cur = this.values.get(k)
    if (cur) cur.value += by
    else this.values.set(k, { labels, value: by })
  }

  /** The current value of one label set (tests, `truedy status`). */
  get (labels?: Labels): number { return this.values.get(keyOf(labels))?.value ?? 0 }

  async samples (): Promise<string[]> {
    if (this.values.size === 0) return [`${this.name} 0`]
    return [...this.values.values()].map(v => `${this.name}${labelText(v.labels)} ${num(v.value)}`)
  }
}

/** What a callback gauge reads at scrape time: one value, or one value per label set. */
export type GaugeReading = number | ReadonlyArray<{ labels: Labels, value: number }>

/** A value that goes up and down: set directly, or read from `collect` at each scrape. */
export class Gauge implements Metric {
  readonly type = 'gauge'
  private readonly values = new Map<string, { labels: Labels | undefined, value: number }>()
  constructor (readonly name: string, readonly help: string, private collect?: () => GaugeReading | Promise<GaugeReading>) {}

  set (value: number, labels?: Labels): void { this.values.set(keyOf(labels), { labels, value }) }

  /** Replaces the scrape-time callback (a value provider wired after the registry was built). */
  provide (collect: () => GaugeReading | Promise<GaugeReading>): void { this.collect = collect }

  async samples (): Promise<string[]> {
    if (this.collect) {
      const r = await this.collect()
      if (typeof r === 'number') return [`${this.name} ${num(r)}`]
      return r.map(v => `${this.name}${labelText(v.labels)} ${num(v.value)}`)
    }
    if (this.values.size === 0) return [`${this.name} 0`]
    return [...this.values.values()].map(v => `${this.name}${labelText(v.labels)} ${num(v.value)}`)
  }
}

/** Observations counted into fixed cumulative buckets, per label set. */
export class Histogram implements Metric {
  readonly type = 'histogram'
  private readonly series = new Map<string, { labels: Labels | undefined, counts: number[], sum: number, count: number }>()
  constructor (readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe (value: number, labels?: Labels): void {
    const k = keyOf(labels)
    let s = this.series.get(k)
    if (!s) { s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }; this.series.set(k, s) }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++
    s.sum += value
    s.count++
  }

  async samples (): Promise<string[]> {
    const out: string[] = []
    // Before the first observation an unlabelled series of zeros says the histogram exists.
    const series = this.series.size > 0 ? [...this.series.values()] : [{ labels: undefined, counts: this.buckets.map(() => 0), sum: 0, count: 0 }]
    for (const s of series) {
      this.buckets.forEach((b, i) => { out.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i]}`) })
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`)
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`)
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`)
    }
    return out
  }
}

/** The metrics of one process, rendered together by `GET /metrics`. */
export class Registry {
  private readonly metrics: Metric[] = []
  private readonly scrapeHooks: Array<() => void> = []

  /** `fn` runs at the start of every render (e.g. to drop a snapshot shared by scrape-time gauges). */
  onScrape (fn: () => void): void { this.scrapeHooks.push(fn) }

  register<M extends Metric> (m: M): M {
    this.metrics.push(m)
    return m
  }

  /**
   * The text exposition. A scrape-time callback that throws leaves its metric out of this scrape
   * (reported through `onError`) rather than failing the whole page.
   */
  async render (onError?: (name: string, e: unknown) => void): Promise<string> {
    const parts: string[] = []
    for (const fn of this.scrapeHooks) fn()
    for (const m of this.metrics) {
      let lines: string[]
      try { lines = await m.samples() } catch (e) { onError?.(m.name, e); continue }
      parts.push(`# HELP ${m.name} ${m.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`, `# TYPE ${m.name} ${m.type}`, ...lines)
    }
    return parts.join('\n') + '\n'
  }
}
