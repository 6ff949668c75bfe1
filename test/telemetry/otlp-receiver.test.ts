// The test OTLP receiver decodes what the real OpenTelemetry JS SDK sends: payloads serialized by
// @opentelemetry/otlp-transformer from SDK spans must come back field for field, and the OTLP/proto
// exporter must reach it end to end.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type HrTime } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base'
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver'

const REMOTE_TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const REMOTE_SPAN_ID = 'b7ad6b7169203331'
const LINKED = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE }
const SERVER_START: HrTime = [1_700_000_000, 123_456_789]
const EVENT_TIME: HrTime = [1_700_000_000, 999_999_999]
const CLIENT_START: HrTime = [1_700_000_001, 5]
const CLIENT_END: HrTime = [1_700_000_002, 0]
const SERVER_END: HrTime = [1_700_000_002, 500_000_000]
const nanos = ([s, ns]: HrTime): bigint => BigInt(s) * 1_000_000_000n + BigInt(ns)

const SERVER_ATTRIBUTES = {
  'http.request.method': 'POST',
  'gen_ai.request.model': 'qwen-7b',
  'http.response.status_code': 502,
  'gen_ai.usage.input_tokens': 0,
  'test.negative': -42,
  'test.max_safe': Number.MAX_SAFE_INTEGER,
  'test.min_safe': Number.MIN_SAFE_INTEGER,
  'gen_ai.request.temperature': 0.7,
  'test.tiny': -1.5e-300,
  'test.infinite': Number.POSITIVE_INFINITY,
  'test.stream': true,
  'test.cached': false,
  'gen_ai.response.finish_reasons': ['stop', 'length'],
  'test.latencies': [1, 2.5, -3],
  'test.flags': [true, false],
  'test.unicode': 'héllo ✓ 世界',
  'test.empty': '',
}

/** A server span under a remote parent (with trace state) and a client child with a link, recorded by the SDK. */
function recordTrace(): { server: ReadableSpan; client: ReadableSpan; spans: ReadableSpan[] } {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otlp-receiver-test', 'service.instance.id': 7 }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('receiver-test-scope', '1.2.3')
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: REMOTE_TRACE_ID,
    spanId: REMOTE_SPAN_ID,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=opaque,other=1'),
  })
  const server = tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER, startTime: SERVER_START, attributes: SERVER_ATTRIBUTES }, remote)
  server.addEvent('engine.picked', { 'engine.id': 'e1', attempt: 2, weight: 0.25, retry: true }, EVENT_TIME)
  const client = tracer.startSpan(
    'chat upstream',
    { kind: SpanKind.CLIENT, startTime: CLIENT_START, links: [{ context: LINKED, attributes: { 'link.reason': 'retry' } }] },
    trace.setSpan(remote, server),
  )
  client.end(CLIENT_END)
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'engine failed: 502' })
  server.end(SERVER_END)
  const spans = exporter.getFinishedSpans()
  const byName = (name: string): ReadableSpan => spans.find((s) => s.name === name)!
  return { server: byName('POST /v1/chat/completions'), client: byName('chat upstream'), spans }
}

let receiver: OtlpReceiver
beforeAll(async () => {
  receiver = await startOtlpReceiver()
})
afterEach(() => receiver.clear())
afterAll(() => receiver.stop())

function post(body: Uint8Array, contentType = 'application/x-protobuf'): Promise<Response> {
  return fetch(`${receiver.url}/v1/traces`, { method: 'POST', headers: { 'content-type': contentType }, body })
}

/** Serializes the recorded trace as the OTLP/proto exporter would, posts it, and returns the decoded spans. */
async function exportRecorded(): Promise<{ server: ReceivedSpan; client: ReceivedSpan; recorded: ReturnType<typeof recordTrace> }> {
  const recorded = recordTrace()
  const res = await post(ProtobufTraceSerializer.serializeRequest(recorded.spans)!)
  expect(res.status).toBe(200)
  const byName = (name: string): ReceivedSpan => receiver.spans.find((s) => s.name === name)!
  return { server: byName(recorded.server.name), client: byName(recorded.client.name), recorded }
}

/** Protobuf fields appended by hand: tag varint, then the payload. */
const tag = (no: number, wire: number): number[] => varintBytes((no << 3) | wire)
function varintBytes(n: number): number[] {
  const out: number[] = []
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 0x80)
  return [...out, n]
}

describe('protobuf export requests', () => {
  test('are answered 200 with an empty protobuf body', async () => {
    const res = await post(ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-protobuf')
    expect((await res.arrayBuffer()).byteLength).toBe(0)
    expect(receiver.requests).toBe(1)
    expect(receiver.spans).toHaveLength(2)
  })

  test('decode trace and span ids as lower-case hex, and the parent of each span', async () => {
    const { server, client, recorded } = await exportRecorded()
    expect(server.traceId).toBe(REMOTE_TRACE_ID)
    expect(server.spanId).toBe(recorded.server.spanContext().spanId)
    expect(server.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(server.parentSpanId).toBe(REMOTE_SPAN_ID)
    expect(client.traceId).toBe(REMOTE_TRACE_ID)
    expect(client.spanId).toBe(recorded.client.spanContext().spanId)
    expect(client.parentSpanId).toBe(server.spanId)
  })

  test('decode a root span with an empty parent id', async () => {
    const exporter = new InMemorySpanExporter()
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('t').startSpan('root').end()
    await post(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!)
    expect(receiver.spans.map((s) => [s.name, s.parentSpanId, s.kind, s.status])).toEqual([['root', '', 1, { code: 0, message: '' }]])
  })

  test('decode name, kind (API kind + 1), trace state and flags', async () => {
    const { server, client } = await exportRecorded()
    expect([server.name, server.kind]).toEqual(['POST /v1/chat/completions', 2])
    expect([client.name, client.kind]).toEqual(['chat upstream', 3])
    expect(server.traceState).toBe('vendor=opaque,other=1')
    // sampled (0x01) | context-has-is-remote (0x100), plus parent-is-remote (0x200) for the server span.
    expect(server.flags).toBe(0x301)
    expect(client.flags).toBe(0x101)
  })

  test('decode start, end and event times to the nanosecond', async () => {
    const { server, client, recorded } = await exportRecorded()
    expect(server.startTimeUnixNano).toBe(1_700_000_000_123_456_789n)
    expect(server.startTimeUnixNano).toBe(nanos(recorded.server.startTime))
    expect(server.endTimeUnixNano).toBe(nanos(SERVER_END))
    expect([client.startTimeUnixNano, client.endTimeUnixNano]).toEqual([nanos(CLIENT_START), nanos(CLIENT_END)])
    expect(server.events[0]!.timeUnixNano).toBe(1_700_000_000_999_999_999n)
  })

  test('decode string, int, double, bool and array attributes', async () => {
    const { server, client } = await exportRecorded()
    expect(server.attributes).toEqual(SERVER_ATTRIBUTES)
    expect(client.attributes).toEqual({})
  })

  test('decode events with their name and attributes', async () => {
    const { server, client } = await exportRecorded()
    expect(server.events).toEqual([
      { name: 'engine.picked', timeUnixNano: nanos(EVENT_TIME), attributes: { 'engine.id': 'e1', attempt: 2, weight: 0.25, retry: true } },
    ])
    expect(client.events).toEqual([])
  })

  test('decode an error status with its message, and an unset status', async () => {
    const { server, client } = await exportRecorded()
    expect(server.status).toEqual({ code: 2, message: 'engine failed: 502' })
    expect(client.status).toEqual({ code: 0, message: '' })
  })

  test('decode resource attributes and the instrumentation scope name', async () => {
    const { server, client } = await exportRecorded()
    expect(server.resource).toMatchObject({ 'service.name': 'otlp-receiver-test', 'service.instance.id': 7 })
    expect(client.resource).toEqual(server.resource)
    expect([server.scope, client.scope]).toEqual(['receiver-test-scope', 'receiver-test-scope'])
  })

  test('decode links with their attributes', async () => {
    const { client } = await exportRecorded()
    expect(client.links).toEqual([{ traceId: LINKED.traceId, spanId: LINKED.spanId, traceState: '', attributes: { 'link.reason': 'retry' } }])
  })

  test('skip unknown fields of every wire type', async () => {
    const known = ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!
    const unknown = [
      ...tag(90, 0), ...varintBytes(300),
      ...tag(91, 1), 1, 2, 3, 4, 5, 6, 7, 8,
      ...tag(92, 2), 3, 0xff, 0xfe, 0xfd,
      ...tag(93, 5), 1, 2, 3, 4,
    ]
    const res = await post(new Uint8Array([...unknown, ...known, ...unknown]))
    expect(res.status).toBe(200)
    expect(receiver.spans.map((s) => s.name).sort()).toEqual(['POST /v1/chat/completions', 'chat upstream'])
  })

  test('refuse a truncated body with 400, saying why, and record no spans', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!
    const res = await post(body.subarray(0, body.length - 5))
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('undecodable application/x-protobuf export request')
    expect(receiver.errors).toHaveLength(1)
    expect([receiver.spans.length, receiver.requests]).toEqual([0, 0])
  })

  test('refuse a known field sent with the wrong wire type', async () => {
    const res = await post(new Uint8Array([...tag(1, 0), 1]))
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('resource_spans (field 1) arrived as varint, expected length-delimited')
  })

  test('refuse other content types with 415', async () => {
    const res = await post(new Uint8Array([1, 2, 3]), 'text/plain')
    expect(res.status).toBe(415)
    expect(receiver.errors).toEqual(["unsupported content-type 'text/plain'"])
  })
})

describe('OTLP/JSON export requests', () => {
  test('decode to the same spans as protobuf', async () => {
    const { spans } = recordTrace()
    await post(ProtobufTraceSerializer.serializeRequest(spans)!)
    const fromProtobuf = receiver.spans.slice()
    receiver.clear()
    const res = await post(JsonTraceSerializer.serializeRequest(spans)!, 'application/json')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({})
    // The SDK's JSON serializer passes doubles to JSON.stringify, which turns Infinity into null.
    const server = receiver.spans.find((s) => s.name === 'POST /v1/chat/completions')!
    expect(server.attributes['test.infinite']).toBeNull()
    server.attributes['test.infinite'] = Number.POSITIVE_INFINITY
    expect(receiver.spans).toEqual(fromProtobuf)
  })
})

describe('waitForSpans', () => {
  test('resolves when a later batch satisfies the predicate', async () => {
    const waiting = receiver.waitForSpans((spans) => spans.some((s) => s.name === 'chat upstream'))
    await post(ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!)
    expect((await waiting).map((s) => s.name)).toContain('chat upstream')
  })

  test('resolves at once when the spans are already there', async () => {
    await post(ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!)
    expect(await receiver.waitForSpans((spans) => spans.length === 2, 1)).toHaveLength(2)
  })

  test('rejects after its bound, naming the spans that did arrive', async () => {
    await post(ProtobufTraceSerializer.serializeRequest(recordTrace().spans)!)
    const waiting = receiver.waitForSpans((spans) => spans.length > 5, 50)
    await expect(waiting).rejects.toThrow(/timed out after 50 ms waiting for spans; received 2 \(.*chat upstream.*\)/)
  })
})

describe('the OTLP/proto exporter', () => {
  for (const compression of [CompressionAlgorithm.NONE, CompressionAlgorithm.GZIP]) {
    test(`delivers batched spans to the receiver (compression ${compression})`, async () => {
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'exporter-e2e' }),
        spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces`, compression }) })],
      })
      const tracer = provider.getTracer('e2e')
      const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, attributes: { 'gen_ai.usage.output_tokens': 17 } })
      tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, parent)).end()
      parent.end()
      await provider.forceFlush()
      const spans = await receiver.waitForSpans((all) => all.length >= 2)
      await provider.shutdown()
      const parentSpan = spans.find((s) => s.name === 'parent')!
      const childSpan = spans.find((s) => s.name === 'child')!
      expect(childSpan.parentSpanId).toBe(parentSpan.spanId)
      expect(childSpan.traceId).toBe(parentSpan.traceId)
      expect(parentSpan.attributes).toEqual({ 'gen_ai.usage.output_tokens': 17 })
      expect(parentSpan.resource['service.name']).toBe('exporter-e2e')
      expect(parentSpan.endTimeUnixNano).toBeGreaterThanOrEqual(parentSpan.startTimeUnixNano)
      expect(receiver.errors).toEqual([])
    })
  }
})
