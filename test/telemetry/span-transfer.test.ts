// The hand-over format between the request thread and the export worker: spans written into a batch
// (recurring strings once, then by index) come back, through JSON, as the spans the SDK recorded.
import { expect, test } from 'bun:test'
import { context, SpanKind, trace } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { appendSpan, readSpans, SpanBatch, type FlatSpans } from '../../src/telemetry/span-transfer'

function recordedSpans(): ReadableSpan[] {
  const ended: ReadableSpan[] = []
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 't' }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [{ onStart() {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }],
  })
  const tracer = provider.getTracer('scope', '1.0.0')
  for (let i = 0; i < 3; i++) {
    const server = tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER })
    // A string value equal to a key written before, and numbers equal to the indexes of strings.
    server.setAttributes({ 'http.route': '/v1/chat/completions', 'gen_ai.operation.name': 'http.route', 'sagellm.attempt': 0, 'server.port': 1 })
    server.addEvent('gen_ai.first_chunk')
    const client = tracer.startSpan(`chat m${i % 2}`, { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), server))
    client.setAttributes({ 'gen_ai.operation.name': 'chat', 'gen_ai.response.finish_reasons': ['stop'], 'http.route': `r${i}` })
    client.addEvent('gen_ai.first_chunk', { n: i })
    client.end()
    server.end()
  }
  // A second scope without a version, a link, and keys that look like numbers.
  const other = provider.getTracer('other-scope')
  const linked = other.startSpan('', { links: [{ context: ended[0]!.spanContext(), attributes: { '0': 'x' } }] })
  linked.setAttributes({ '0': 1, '1': 'scope', '': 'ignored by the SDK', 'ü': 'é' })
  linked.addEvent('', { '1': 2 })
  linked.end()
  return ended
}

test('spans written into a batch come back through JSON with every field as recorded', () => {
  const spans = recordedSpans()
  const batch = new SpanBatch()
  for (const span of spans) appendSpan(batch, span)
  expect(batch.count).toBe(7)
  const back = readSpans(JSON.parse(JSON.stringify(batch.flat)) as FlatSpans, resourceFromAttributes({ 'service.name': 't' }))
  expect(back).toHaveLength(7)
  back.forEach((span, i) => {
    const original = spans[i]!
    expect(span.name).toBe(original.name)
    expect(span.kind).toBe(original.kind)
    expect(span.spanContext().spanId).toBe(original.spanContext().spanId)
    expect(span.parentSpanContext?.spanId).toBe(original.parentSpanContext?.spanId)
    expect(span.attributes).toEqual(original.attributes)
    expect(span.events.map((e) => [e.name, e.attributes ?? {}])).toEqual(original.events.map((e) => [e.name, e.attributes ?? {}]))
    expect(span.instrumentationScope).toEqual(i < 6 ? { name: 'scope', version: '1.0.0' } : { name: 'other-scope', version: undefined })
    expect(span.links.map((l) => [l.context.spanId, l.attributes])).toEqual(original.links.map((l) => [l.context.spanId, l.attributes]))
    expect(span.startTime).toEqual(original.startTime)
    expect(span.endTime).toEqual(original.endTime)
  })
})

test('a recurring string is written once per batch; a new batch writes it again', () => {
  const spans = recordedSpans()
  const first = new SpanBatch()
  for (const span of spans) appendSpan(first, span)
  const occurrences = (flat: FlatSpans, s: string) => flat.filter((v) => v === s).length
  expect(occurrences(first.flat, 'gen_ai.operation.name')).toBe(1)
  expect(occurrences(first.flat, 'POST /v1/chat/completions')).toBe(1)
  const second = new SpanBatch()
  appendSpan(second, spans[5]!)
  expect(occurrences(second.flat, 'POST /v1/chat/completions')).toBe(1)
})
