// A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered in the
// text exposition format on GET /metrics. Recording is an array lookup and an add (label values are
// joined into one map key), so the request path cannot feel it. Gauges that mirror live state (engine
// load, queue depth) are read at scrape time through collectors instead of being kept up to date.

type LabelValues = readonly string[]

interface Series {
  readonly labels: LabelValues
  value: number
}

interface HistogramSeries {
  readonly labels: LabelValues
  readonly counts: Float64Array
  sum: number
  count: number
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}
  abstract render(): string
}

const key = (labels: LabelValues) => (labels.length === 1 ? labels[0]! : labels.join('\u0001'))

function labelText(names: readonly string[], values: LabelValues, extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`)
  if (extra) parts.push(extra)
  return parts.length ? `{${parts.join(',')}}` : ''
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatNumber(n: number): string {
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return Number.isNaN(n) ? 'NaN' : String(n)
}

export class Counter extends Metric {
  private readonly series = new Map<string, Series>()

  inc(labels: LabelValues = [], by = 1): void {
    const k = key(labels)
    const s = this.series.get(k)
    if (s) s.value += by
    else this.series.set(k, { labels: [...labels], value: by })
  }

  get(labels: LabelValues = []): number {
    return this.series.get(key(labels))?.value ?? 0
  }

  total(): number {
    let sum = 0
    for (const s of this.series.values()) sum += s.value
    return sum
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`
    for (const s of this.series.values()) out += `${this.name}${labelText(this.labelNames, s.labels)} ${formatNumber(s.value)}\n`
    return out
  }
}

/** A gauge read at scrape time: `read` returns the current [label values, value] pairs. */
export class CollectedGauge extends Metric {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly read: () => Iterable<readonly [LabelValues, number]>,
  ) {
    super(name, help, labelNames)
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`
    for (const [labels, value] of this.read()) out += `${this.name}${labelText(this.labelNames, labels)} ${formatNumber(value)}\n`
    return out
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, HistogramSeries>()

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames)
  }

  observe(labels: LabelValues, value: number): void {
    const k = key(labels)
    let s = this.series.get(k)
    if (!s) {
      s = { labels: [...labels], counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }
      this.series.set(k, s)
    }
    // Counts per bucket (not cumulative) here; render() accumulates.
    let i = 0
    while (i < this.buckets.length && value > this.buckets[i]!) i++
    if (i < this.buckets.length) s.counts[i]!++
    s.sum += value
    s.count++
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`
    for (const s of this.series.values()) {
      let cumulative = 0
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!
        out += `${this.name}_bucket${labelText(this.labelNames, s.labels, `le="${formatNumber(le)}"`)} ${cumulative}\n`
      })
      out += `${this.name}_bucket${labelText(this.labelNames, s.labels, 'le="+Inf"')} ${s.count}\n`
      out += `${this.name}_sum${labelText(this.labelNames, s.labels)} ${formatNumber(s.sum)}\n`
      out += `${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}\n`
    }
    return out
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = []

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames))
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets))
  }

  collected(name: string, help: string, labelNames: readonly string[], read: () => Iterable<readonly [LabelValues, number]>): CollectedGauge {
    return this.add(new CollectedGauge(name, help, labelNames, read))
  }

  /** The text exposition format, version 0.0.4. */
  render(): string {
    return this.metrics.map((m) => m.render()).join('')
  }

  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric)
    return metric
  }
}

/** The last `size` values of something, for medians on /v1/stats and the sageLLM dashboard gauges. */
export class RecentWindow {
  private readonly values: Float64Array
  private next = 0
  private filled = 0

  constructor(size: number) {
    this.values = new Float64Array(size)
  }

  add(value: number): void {
    this.values[this.next] = value
    this.next = (this.next + 1) % this.values.length
    if (this.filled < this.values.length) this.filled++
  }

  /** The q-quantile (0..1) of the values held, 0 when empty. */
  quantile(q: number): number {
    if (this.filled === 0) return 0
    const sorted = Array.from(this.values.subarray(0, this.filled)).sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  }
}

/** Events per second over the last `seconds` seconds (one counter per second, in a ring). */
export class RateWindow {
  private readonly counts: Float64Array
  private readonly stamps: Float64Array

  constructor(
    private readonly seconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.counts = new Float64Array(seconds)
    this.stamps = new Float64Array(seconds).fill(-1)
  }

  add(amount: number): void {
    const second = Math.floor(this.now() / 1000)
    const i = second % this.seconds
    if (this.stamps[i] !== second) {
      this.stamps[i] = second
      this.counts[i] = 0
    }
    this.counts[i]! += amount
  }

  perSecond(): number {
    const current = Math.floor(this.now() / 1000)
    let sum = 0
    for (let i = 0; i < this.seconds; i++) if (this.stamps[i]! > current - this.seconds) sum += this.counts[i]!
    return sum / this.seconds
  }
}
