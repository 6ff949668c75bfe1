// The strict Prometheus text parser: well-formed 0.0.4 exposition comes back as families and samples,
// and every kind of malformed input is refused with a message that says what is wrong and where.
import { describe, expect, test } from 'bun:test'
import { histogram, parsePrometheus, sampleValue } from '../helpers/prometheus-text'

const EXPOSITION = String.raw`# HELP gw_requests_total Requests handled, by route and status.
# TYPE gw_requests_total counter
gw_requests_total{route="/v1/chat/completions",status="200"} 12
gw_requests_total{route="/v1/messages",status="500"} 1 1700000000000
# HELP gw_engines_healthy Engines healthy now.\nA second line, with a backslash \\ in it.
# TYPE gw_engines_healthy gauge
gw_engines_healthy 2
# TYPE gw_engine_temperature gauge
gw_engine_temperature{engine="say \"hi\"",path="C:\\models",note="two\nlines"} -1.5e-3
gw_engine_temperature{ engine = "spaced" , } 4
# TYPE gw_request_duration_seconds histogram
gw_request_duration_seconds_bucket{route="/a",le="0.1"} 1
gw_request_duration_seconds_bucket{route="/a",le="1"} 3
gw_request_duration_seconds_bucket{route="/a",le="+Inf"} 4
gw_request_duration_seconds_sum{route="/a"} 2.5
gw_request_duration_seconds_count{route="/a"} 4
gw_request_duration_seconds_bucket{route="/b",le="0.1"} 0
gw_request_duration_seconds_bucket{route="/b",le="1"} 0
gw_request_duration_seconds_bucket{route="/b",le="+Inf"} 0
gw_request_duration_seconds_sum{route="/b"} 0
gw_request_duration_seconds_count{route="/b"} 0
# TYPE gw_ttft_seconds summary
gw_ttft_seconds{quantile="0.5"} 0.2
gw_ttft_seconds{quantile="0.99"} NaN
gw_ttft_seconds_sum 7.5
gw_ttft_seconds_count 30
# a plain comment, ignored
gw_untyped_thing 3
gw_bounds{kind="up"} +Inf
gw_bounds{kind="down"} -Inf
`

describe('a well-formed exposition', () => {
  const parsed = parsePrometheus(EXPOSITION)

  test('yields one family per metric with its help, type and samples', () => {
    const requests = parsed.families.get('gw_requests_total')!
    expect(requests.type).toBe('counter')
    expect(requests.help).toBe('Requests handled, by route and status.')
    expect(requests.samples).toEqual([
      { name: 'gw_requests_total', labels: { route: '/v1/chat/completions', status: '200' }, value: 12 },
      { name: 'gw_requests_total', labels: { route: '/v1/messages', status: '500' }, value: 1, timestampMs: 1_700_000_000_000 },
    ])
    expect([...parsed.families.keys()]).toEqual([
      'gw_requests_total', 'gw_engines_healthy', 'gw_engine_temperature', 'gw_request_duration_seconds', 'gw_ttft_seconds', 'gw_untyped_thing', 'gw_bounds',
    ])
  })

  test('unescapes \\n and \\\\ in HELP text', () => {
    expect(parsed.families.get('gw_engines_healthy')!.help).toBe('Engines healthy now.\nA second line, with a backslash \\ in it.')
  })

  test('unescapes \\", \\\\ and \\n in label values and allows blanks and a trailing comma in the label set', () => {
    expect(parsed.families.get('gw_engine_temperature')!.samples).toEqual([
      { name: 'gw_engine_temperature', labels: { engine: 'say "hi"', path: 'C:\\models', note: 'two\nlines' }, value: -0.0015 },
      { name: 'gw_engine_temperature', labels: { engine: 'spaced' }, value: 4 },
    ])
  })

  test('reads +Inf, -Inf and NaN values', () => {
    expect(sampleValue(parsed, 'gw_bounds', { kind: 'up' })).toBe(Number.POSITIVE_INFINITY)
    expect(sampleValue(parsed, 'gw_bounds', { kind: 'down' })).toBe(Number.NEGATIVE_INFINITY)
    expect(sampleValue(parsed, 'gw_ttft_seconds', { quantile: '0.99' })).toBeNaN()
  })

  test('puts samples without a TYPE line in untyped families of their own', () => {
    expect(parsed.families.get('gw_untyped_thing')).toEqual({
      name: 'gw_untyped_thing', help: '', type: 'untyped', samples: [{ name: 'gw_untyped_thing', labels: {}, value: 3 }],
    })
  })

  test('groups _sum and _count under their summary family', () => {
    const summary = parsed.families.get('gw_ttft_seconds')!
    expect(summary.type).toBe('summary')
    expect(summary.samples.map((s) => s.name)).toEqual(['gw_ttft_seconds', 'gw_ttft_seconds', 'gw_ttft_seconds_sum', 'gw_ttft_seconds_count'])
  })

  test('sampleValue matches labels exactly and is undefined when nothing matches', () => {
    expect(sampleValue(parsed, 'gw_requests_total', { status: '200', route: '/v1/chat/completions' })).toBe(12)
    expect(sampleValue(parsed, 'gw_requests_total', { route: '/v1/chat/completions' })).toBeUndefined()
    expect(sampleValue(parsed, 'gw_engines_healthy')).toBe(2)
    expect(sampleValue(parsed, 'gw_request_duration_seconds_count', { route: '/a' })).toBe(4)
    expect(sampleValue(parsed, 'gw_missing_total')).toBeUndefined()
  })

  test('histogram returns the buckets, sum and count of the series with those labels', () => {
    expect(histogram(parsed, 'gw_request_duration_seconds', { route: '/a' })).toEqual({
      buckets: [[0.1, 1], [1, 3], [Number.POSITIVE_INFINITY, 4]],
      sum: 2.5,
      count: 4,
    })
    expect(histogram(parsed, 'gw_request_duration_seconds', { route: '/b' })!.count).toBe(0)
  })

  test('histogram is undefined for absent series and refuses a family that is not a histogram', () => {
    expect(histogram(parsed, 'gw_request_duration_seconds', { route: '/c' })).toBeUndefined()
    expect(histogram(parsed, 'gw_request_duration_seconds')).toBeUndefined()
    expect(histogram(parsed, 'gw_missing_seconds')).toBeUndefined()
    expect(() => histogram(parsed, 'gw_engines_healthy')).toThrow("metric family 'gw_engines_healthy' is a gauge, not a histogram")
  })

  test('an empty exposition has no families', () => {
    expect(parsePrometheus('').families.size).toBe(0)
  })
})

const HISTOGRAM_TYPE = '# TYPE h histogram\n'

/** [what is wrong, exposition, what the error must say]. */
const MALFORMED: [string, string, RegExp][] = [
  ['a line that is not a sample', '{job="x"} 1\n', /line 1: expected a metric name, a comment or an empty line/],
  ['a sample without a value', 'up\n', /line 1: expected a blank and a value after up/],
  ['a sample value that is not a number', 'up 1.2.3\n', /line 1: invalid sample value '1\.2\.3'/],
  ['a sample value spelled inf', 'up inf\n', /invalid sample value 'inf'/],
  ['a timestamp that is not integer milliseconds', 'up 1 12.5\n', /invalid timestamp '12\.5'/],
  ['tokens after the timestamp', 'up 1 2 3\n', /unexpected '3' after the value and timestamp/],
  ['a second TYPE line', '# TYPE up gauge\n# TYPE up gauge\n', /line 2: second TYPE line for 'up'/],
  ['a second TYPE line after samples', '# TYPE up gauge\nup 1\n# TYPE up gauge\n', /line 3: second TYPE line for 'up'/],
  ['a second HELP line', '# HELP up a\n# HELP up b\n', /line 2: second HELP line for 'up'/],
  ['an unknown type', '# TYPE up countr\n', /TYPE line must name one of counter, gauge, histogram, summary, untyped; got 'countr'/],
  ['a TYPE line without a type', '# TYPE up\n', /TYPE line must name one of .*; got ''/],
  ['an invalid metric name in TYPE', '# TYPE 1up gauge\n', /invalid metric name '1up' in TYPE line/],
  ['a TYPE line after its samples', 'up 1\n# TYPE up gauge\n', /line 2: TYPE line for 'up' comes after its samples \(line 1\)/],
  ['a histogram TYPE after its buckets', 'h_bucket{le="+Inf"} 1\n# TYPE h histogram\n', /TYPE line for 'h' comes after its samples \(line 1\)/],
  ['a family split in two', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n', /line 5: lines of metric family 'a' are not grouped together/],
  ['a label name starting with a digit', 'up{1job="x"} 1\n', /invalid label name '1job' in up/],
  ['a label name with a dash', 'up{job-name="x"} 1\n', /invalid label name 'job-name'/],
  ['a reserved label name', 'up{__name__="x"} 1\n', /label name '__name__' is reserved/],
  ['a label given twice', 'up{a="1",a="2"} 1\n', /label 'a' appears twice in up/],
  ['an unquoted label value', 'up{a=x} 1\n', /label 'a' value must be in double quotes/],
  ['an invalid escape in a label value', 'up{a="tab\\t"} 1\n', /invalid escape '\\t' in label 'a'/],
  ['an unterminated label value', 'up{a="x} 1\n', /unterminated value of label 'a'/],
  ['a missing comma between labels', 'up{a="1" b="2"} 1\n', /expected ',' or '}' after label 'a'/],
  ['an unterminated label set', 'up{a="1",\n', /unterminated label set of up/],
  ['an invalid escape in HELP', '# HELP up bad \\t escape\n', /invalid escape '\\t' in HELP/],
  ['the same series twice', 'up{a="1",b="2"} 1\nup{b="2",a="1"} 1\n', /line 2: duplicate series up\{a="1",b="2"\} \(first on line 1\)/],
  ['a negative counter', '# TYPE c_total counter\nc_total -1\n', /counter sample c_total is negative \(-1\)/],
  ['a histogram without a +Inf bucket', `${HISTOGRAM_TYPE}h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n`, /histogram series h\{\}: has no _bucket\{le="\+Inf"\}/],
  ['a histogram with only _sum and _count', `${HISTOGRAM_TYPE}h_sum 1\nh_count 1\n`, /histogram series h\{\}: has no _bucket\{le="\+Inf"\}/],
  ['non-cumulative buckets', `${HISTOGRAM_TYPE}h_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n`, /bucket le="2" counts 3, less than le="1" \(5\); buckets must be cumulative/],
  ['buckets out of order', `${HISTOGRAM_TYPE}h_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n`, /bucket le="1" comes after le="2"/],
  ['_count unequal to the +Inf bucket', `${HISTOGRAM_TYPE}h_bucket{x="y",le="+Inf"} 4\nh_sum{x="y"} 1\nh_count{x="y"} 5\n`, /histogram series h\{x="y"\}: _count is 5 but the \+Inf bucket counts 4/],
  ['a histogram series without _count', `${HISTOGRAM_TYPE}h_bucket{le="+Inf"} 4\nh_sum 1\n`, /histogram series h\{\}: has no _count/],
  ['a histogram series without _sum', `${HISTOGRAM_TYPE}h_bucket{le="+Inf"} 4\nh_count 4\n`, /histogram series h\{\}: has no _sum/],
  ['a bucket without le', `${HISTOGRAM_TYPE}h_bucket{x="y"} 4\n`, /histogram bucket h_bucket needs an 'le' label holding a number; got none/],
  ['a bucket with a non-numeric le', `${HISTOGRAM_TYPE}h_bucket{le="big"} 4\n`, /needs an 'le' label holding a number; got 'big'/],
  ['le on a histogram _sum', `${HISTOGRAM_TYPE}h_sum{le="1"} 4\n`, /h_sum must not carry an 'le' label/],
  ['a histogram sample named like the family', `${HISTOGRAM_TYPE}h 4\n`, /histogram 'h' has a sample named 'h'; only h_bucket, h_sum and h_count belong to it/],
  ['a summary quantile without a quantile label', '# TYPE s summary\ns 1\n', /summary quantile sample s needs a numeric 'quantile' label/],
  ['a last line without a line feed', 'up 1', /the last line does not end with a line feed/],
  ['CRLF line endings', 'up 1\r\n', /line 1: carriage return in a line/],
]

describe('a malformed exposition is refused', () => {
  for (const [what, text, message] of MALFORMED) {
    test(what, () => {
      expect(() => parsePrometheus(text)).toThrow(message)
    })
  }
})
