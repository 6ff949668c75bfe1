// A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered in the
// text exposition format on GET /metrics. Recording is a lookup per label value and an add (no key
// string is built), so the request path cannot feel it. Gauges that mirror live state (engine load,
// queue depth) are read at scrape time through collectors instead of being kept up to date.

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

/**
 * A metric's series by label values, found by walking one Map per label (each value a string the
 * caller already holds): an observation builds no key string and allocates nothing once its series exists.
 */
class SeriesIndex<S extends { readonly labels: LabelValues }> {
  private readonly root = new Map<string, unknown>()
  /** Every series, in the order first seen (the order they are rendered in). */
  readonly all: S[] = []

  find(labels: LabelValues): S | undefined {
    let node: unknown = this.root
    for (let i = 0; i < labels.length && node !== undefined; i++) node = (node as Map<string, unknown>).get(labels[i]!)
    return labels.length === 0 ? (this.root.get('') as S | undefined) : (node as S | undefined)
  }

  /** `extra`: the value of one more label after `labels` (the caller builds no array for it). */
  findOrAdd(labels: LabelValues, create: (labels: LabelValues) => S, extra?: string): S {
    if (extra === undefined && labels.length === 0) return (this.root.get('') as S | undefined) ?? this.add(this.root, '', create(labels))
    let node = this.root
    const inner = extra === undefined ? labels.length - 1 : labels.length
    for (let i = 0; i < inner; i++) {
      let next = node.get(labels[i]!) as Map<string, unknown> | undefined
      if (!next) node.set(labels[i]!, (next = new Map()))
      node = next
    }
    const last = extra ?? labels[inner]!
    return (node.get(last) as S | undefined) ?? this.add(node, last, create(extra === undefined ? labels : [...labels, extra]))
  }

  private add(node: Map<string, unknown>, value: string, series: S): S {
    node.set(value, series)
    this.all.push(series)
    return series
  }
}

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

const newSeries = (labels: LabelValues): Series => ({ labels: [...labels], value: 0 })

export class Counter extends Metric {
  private readonly series = new SeriesIndex<Series>()

  inc(labels: LabelValues = [], by = 1): void {
    this.series.findOrAdd(labels, newSeries).value += by
  }

  get(labels: LabelValues = []): number {
    return this.series.find(labels)?.value ?? 0
  }

  total(): number {
    let sum = 0
    for (const s of this.series.all) sum += s.value
    return sum
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`
    for (const s of this.series.all) out += `${this.name}${labelText(this.labelNames, s.labels)} ${formatNumber(s.value)}\n`
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
  private readonly series = new SeriesIndex<HistogramSeries>()
  private readonly newSeries = (labels: LabelValues): HistogramSeries => ({ labels: [...labels], counts: new Float64Array(this.buckets.length), sum: 0, count: 0 })

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames)
  }

  /** `extra`: the value of the last label, when `labels` holds the ones before it. */
  observe(labels: LabelValues, value: number, extra?: string): void {
    const s = this.series.findOrAdd(labels, this.newSeries, extra)
    // Counts per bucket (not cumulative) here; render() accumulates.
    let i = 0
    while (i < this.buckets.length && value > this.buckets[i]!) i++
    if (i < this.buckets.length) s.counts[i]!++
    s.sum += value
    s.count++
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`
    for (const s of this.series.all) {
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
