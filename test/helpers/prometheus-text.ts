// A strict parser of the Prometheus text exposition format 0.0.4 for tests of /metrics: it throws, naming
// the line, on anything a scraper would reject (bad syntax, escapes, names, duplicate TYPE or series, a TYPE
// after its samples, a family split in two) and on histograms that are not self-consistent (no +Inf
// bucket, non-cumulative buckets, _count unequal to the +Inf bucket), so parsing also checks the output.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_count` for a histogram family `x`. */
  name: string
  labels: Record<string, string>
  value: number
  timestampMs?: number
}

export interface MetricFamily {
  name: string
  help: string
  type: MetricType
  samples: Sample[]
}

export interface ParsedExposition {
  families: Map<string, MetricFamily>
}

export interface HistogramSeries {
  /** [upper bound, cumulative count], in exposition order; the last bound is Infinity. */
  buckets: [number, number][]
  sum: number
  count: number
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const METRIC_NAME_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped']

/** A sample value or `le`/`quantile` bound: a decimal float, +Inf, -Inf or NaN; undefined if it is none. */
export function parsePrometheusFloat(token: string): number | undefined {
  if (token === '+Inf' || token === 'Inf') return Number.POSITIVE_INFINITY
  if (token === '-Inf') return Number.NEGATIVE_INFINITY
  if (token === 'NaN') return Number.NaN
  return FLOAT.test(token) ? Number(token) : undefined
}

interface FamilyState {
  family: MetricFamily
  typed: boolean
  helped: boolean
  /** Line of the first sample, once there is one. */
  firstSample?: number
  /** Another family's lines came after this one's: it may not continue. */
  closed: boolean
}

export function parsePrometheus(text: string): ParsedExposition {
  const states = new Map<string, FamilyState>()
  const series = new Map<string, number>()
  let current: FamilyState | undefined
  const lines = text.split('\n')
  if (text !== '' && lines.pop() !== '') throw new Error('Prometheus exposition: the last line does not end with a line feed')

  lines.forEach((raw, index) => {
    const lineNo = index + 1
    const fail = (why: string): never => {
      throw new Error(`Prometheus exposition line ${lineNo}: ${why}\n  > ${raw}`)
    }
    const stateOf = (name: string): FamilyState => {
      let state = states.get(name)
      if (!state) {
        state = { family: { name, help: '', type: 'untyped', samples: [] }, typed: false, helped: false, closed: false }
        states.set(name, state)
      }
      // All lines of a family form one group: switching families closes the previous one for good.
      if (state !== current) {
        if (state.closed) fail(`lines of metric family '${name}' are not grouped together (another family's lines came in between)`)
        if (current) current.closed = true
        current = state
      }
      return state
    }

    if (raw.includes('\r')) fail('carriage return in a line (CRLF line endings are not allowed)')
    const line = raw.replace(/^[ \t]+/, '')
    if (line === '') return
    if (line.startsWith('#')) {
      const [keyword = '', name = '', ...rest] = line.slice(1).replace(/^[ \t]+/, '').split(/[ \t]+/)
      if (keyword !== 'HELP' && keyword !== 'TYPE') return // a plain comment
      if (!METRIC_NAME.test(name)) fail(`invalid metric name '${name}' in ${keyword} line`)
      if (keyword === 'HELP') {
        const state = stateOf(name)
        if (state.helped) fail(`second HELP line for '${name}'`)
        state.helped = true
        state.family.help = unescapeHelp(line.replace(/^#[ \t]*HELP[ \t]+\S+[ \t]*/, ''), fail)
        return
      }
      if (rest.length !== 1 || !TYPES.includes(rest[0]!)) fail(`TYPE line must name one of ${TYPES.join(', ')}; got '${rest.join(' ')}'`)
      const type = rest[0] as MetricType
      if (states.get(name)?.typed) fail(`second TYPE line for '${name}'`)
      const earlier = samplesOwnedBy(name, type).map((n) => states.get(n)?.firstSample).find((l) => l !== undefined)
      if (earlier !== undefined) fail(`TYPE line for '${name}' comes after its samples (line ${earlier})`)
      const state = stateOf(name)
      state.typed = true
      state.family.type = type
      return
    }

    const sample = parseSampleLine(line, fail)
    const state = stateOf(ownerOf(sample.name, states) ?? sample.name)
    checkSampleFits(state.family, sample, fail)
    const key = seriesKey(sample.name, sample.labels)
    const seen = series.get(key)
    if (seen !== undefined) fail(`duplicate series ${key} (first on line ${seen})`)
    series.set(key, lineNo)
    state.firstSample ??= lineNo
    state.family.samples.push(sample)
  })

  const families = new Map([...states].map(([name, state]) => [name, state.family]))
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return { families }
}

/** The family a sample name belongs to: its own, else a histogram or summary it is a suffix of. */
function ownerOf(sampleName: string, states: Map<string, FamilyState>): string | undefined {
  if (states.has(sampleName)) return sampleName
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const base = sampleName.slice(0, -suffix.length)
    const type = states.get(base)?.family.type
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base
  }
  return undefined
}

/** The sample names a family of this type owns. */
function samplesOwnedBy(name: string, type: MetricType): string[] {
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`]
  return [name]
}

function checkSampleFits(family: MetricFamily, sample: Sample, fail: (why: string) => never): void {
  const { name, type } = family
  const suffix = sample.name.slice(name.length)
  if (type === 'histogram') {
    if (suffix === '') fail(`histogram '${name}' has a sample named '${name}'; only ${name}_bucket, ${name}_sum and ${name}_count belong to it`)
    const le = sample.labels.le
    const bound = le === undefined ? undefined : parsePrometheusFloat(le)
    if (suffix === '_bucket' && (bound === undefined || Number.isNaN(bound))) {
      fail(`histogram bucket ${sample.name} needs an 'le' label holding a number; got ${le === undefined ? 'none' : `'${le}'`}`)
    }
    if (suffix !== '_bucket' && le !== undefined) fail(`${sample.name} must not carry an 'le' label`)
  }
  if (type === 'summary') {
    const q = sample.labels.quantile
    if (suffix === '' && (q === undefined || parsePrometheusFloat(q) === undefined)) fail(`summary quantile sample ${sample.name} needs a numeric 'quantile' label`)
    if (suffix !== '' && q !== undefined) fail(`${sample.name} must not carry a 'quantile' label`)
  }
  const counts = type === 'counter' || (type === 'histogram' && suffix !== '_sum') || (type === 'summary' && suffix === '_count')
  if (counts && sample.value < 0) fail(`${type} sample ${sample.name} is negative (${sample.value})`)
}

function checkHistogram(family: MetricFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = seriesKey(family.name, rest)
    const entry = bySeries.get(key) ?? { buckets: [] }
    bySeries.set(key, entry)
    if (s.name.endsWith('_bucket')) entry.buckets.push([parsePrometheusFloat(le!)!, s.value])
    else if (s.name.endsWith('_sum')) entry.sum = s.value
    else entry.count = s.value
  }
  for (const [key, { buckets, sum, count }] of bySeries) {
    const fail = (why: string): never => {
      throw new Error(`Prometheus exposition: histogram series ${key}: ${why}`)
    }
    buckets.forEach(([le, n], i) => {
      const previous = buckets[i - 1]
      if (previous && le <= previous[0]) fail(`bucket le="${le}" comes after le="${previous[0]}"; buckets must be in increasing order`)
      if (previous && n < previous[1]) fail(`bucket le="${le}" counts ${n}, less than le="${previous[0]}" (${previous[1]}); buckets must be cumulative`)
    })
    const inf = buckets.at(-1)
    if (!inf || inf[0] !== Number.POSITIVE_INFINITY) fail('has no _bucket{le="+Inf"}')
    if (count === undefined) fail('has no _count')
    if (sum === undefined) fail('has no _sum')
    if (count !== inf![1]) fail(`_count is ${count} but the +Inf bucket counts ${inf![1]}`)
  }
}

function parseSampleLine(line: string, fail: (why: string) => never): Sample {
  const name = METRIC_NAME_PREFIX.exec(line)?.[0] ?? fail('expected a metric name, a comment or an empty line')
  const labels: Record<string, string> = {}
  let pos = name.length
  const skipBlanks = () => {
    while (line[pos] === ' ' || line[pos] === '\t') pos++
  }
  if (line[pos] === '{') {
    pos++
    for (skipBlanks(); line[pos] !== '}'; skipBlanks()) {
      if (pos >= line.length) fail(`unterminated label set of ${name} (no closing '}')`)
      const labelName = /^[^=,}\s]*/.exec(line.slice(pos))![0]
      if (!LABEL_NAME.test(labelName)) fail(`invalid label name '${labelName}' in ${name}`)
      if (labelName.startsWith('__')) fail(`label name '${labelName}' is reserved (starts with __)`)
      if (labelName in labels) fail(`label '${labelName}' appears twice in ${name}`)
      pos += labelName.length
      skipBlanks()
      if (line[pos++] !== '=') fail(`expected '=' after label name '${labelName}'`)
      skipBlanks()
      if (line[pos++] !== '"') fail(`label '${labelName}' value must be in double quotes`)
      let value = ''
      for (;;) {
        const c = line[pos++]
        if (c === undefined) fail(`unterminated value of label '${labelName}'`)
        if (c === '"') break
        if (c !== '\\') value += c
        else if (line[pos] === '\\' || line[pos] === '"') value += line[pos++]
        else if (line[pos] === 'n') {
          value += '\n'
          pos++
        }
        else fail(`invalid escape '\\${line[pos] ?? ''}' in label '${labelName}' (only \\\\, \\" and \\n)`)
      }
      labels[labelName] = value
      skipBlanks()
      if (line[pos] === ',') pos++
      else if (line[pos] !== '}') fail(`expected ',' or '}' after label '${labelName}'`)
    }
    pos++
  }
  if (line[pos] !== ' ' && line[pos] !== '\t') fail(`expected a blank and a value after ${name}${pos > name.length ? '{…}' : ''}`)
  const [valueToken = '', timestamp, ...extra] = line.slice(pos).trim().split(/[ \t]+/)
  const value = parsePrometheusFloat(valueToken) ?? fail(`invalid sample value '${valueToken}' (a float, +Inf, -Inf or NaN)`)
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) fail(`invalid timestamp '${timestamp}' (integer milliseconds)`)
  if (extra.length) fail(`unexpected '${extra.join(' ')}' after the value and timestamp`)
  return timestamp === undefined ? { name, labels, value } : { name, labels, value, timestampMs: Number(timestamp) }
}

function unescapeHelp(text: string, fail: (why: string) => never): string {
  return text.replace(/\\(.?)/g, (_, c: string) => (c === '\\' ? '\\' : c === 'n' ? '\n' : fail(`invalid escape '\\${c}' in HELP (only \\\\ and \\n)`)))
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${name}{${pairs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k])
}

/** The value of the sample with exactly this name and these labels; undefined if there is none. */
export function sampleValue(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of parsed.families.values()) {
    const found = family.samples.find((s) => s.name === name && sameLabels(s.labels, labels))
    if (found) return found.value
  }
  return undefined
}

/** The histogram series of family `name` whose labels, apart from `le`, are exactly `labels`; undefined if absent. */
export function histogram(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): HistogramSeries | undefined {
  const family = parsed.families.get(name)
  if (!family) return undefined
  if (family.type !== 'histogram') throw new Error(`metric family '${name}' is a ${family.type}, not a histogram`)
  const buckets = family.samples
    .filter((s) => s.name === `${name}_bucket` && sameLabels(Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== 'le')), labels))
    .map((s): [number, number] => [parsePrometheusFloat(s.labels.le!)!, s.value])
  if (buckets.length === 0) return undefined
  // parsePrometheus checked that a series with buckets has both _sum and _count.
  const sum = sampleValue(parsed, `${name}_sum`, labels)!
  const count = sampleValue(parsed, `${name}_count`, labels)!
  return { buckets, sum, count }
}
