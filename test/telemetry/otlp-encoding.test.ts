// The gateway's OTLP/protobuf span encoding writes, byte for byte, what OpenTelemetry's own serializer
// (ProtobufTraceSerializer, the one exporter-trace-otlp-proto sends) writes for the same spans: every
// kind of attribute value, events, links, trace state, remote parents, status, several scopes and
// resources, and messages whose lengths take one, two and three bytes. Plus the writer's pieces that
// the spans of a test would rarely reach (int64 edges, times past 2^53 nanoseconds).
import { expect, test } from 'bun:test'
import { context, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { EncodedSpanBatch, ProtoWriter } from '../../src/telemetry/otlp-encoding'
import { remoteParent } from '../helpers/telemetry'

/** Spans as the SDK records them, from `record`, under one provider (one resource). */
function recorded(resource: Attributes, record: (provider: TracerProvider) => void): ReadableSpan[] {
  const ended: ReadableSpan[] = []
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [{ onStart() {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }],
  })
  record(provider)
  return ended
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

function expectSameBytes(spans: ReadableSpan[]): Uint8Array {
  const batch = new EncodedSpanBatch()
  for (const span of spans) batch.add(span)
  expect(batch.count).toBe(spans.length)
  const ours = batch.take()
  expect(batch.count).toBe(0)
  expect(hex(ours)).toBe(hex(ProtobufTraceSerializer.serializeRequest(spans)!))
  return ours
}

const gatewayLike = (provider: TracerProvider, i: number) => {
  const tracer = provider.getTracer('sagellm-gateway', '0.1.0')
  const server = tracer.startSpan('POST', { kind: SpanKind.SERVER })
  server.setAttributes({ 'http.request.method': 'POST', 'url.path': '/v1/chat/completions', 'sagellm.request_id': `req-${i}` })
  const client = tracer.startSpan('chat m', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), server))
  client.setAttributes({ 'gen_ai.operation.name': 'chat', 'server.port': 8000, 'sagellm.attempt': 1, 'gen_ai.request.temperature': 0.7 })
  client.addEvent('gen_ai.first_chunk')
  client.setAttributes({ 'gen_ai.usage.input_tokens': 10, 'gen_ai.response.finish_reasons': ['stop', 'length'] })
  client.end()
  server.updateName('POST /v1/chat/completions')
  server.setAttributes({ 'http.route': '/v1/chat/completions', 'http.response.status_code': 200 })
  server.end()
}

test('spans shaped like the gateway’s encode to the same bytes as the OpenTelemetry serializer', () => {
  expectSameBytes(recorded({ 'service.name': 'sagellm-gateway', 'service.version': '0.1.0' }, (p) => {
    for (let i = 0; i < 50; i++) gatewayLike(p, i)
  }))
})

test('every kind of attribute value, event, link, trace state, remote parent and status encodes to the same bytes', () => {
  const spans = recorded({ 'service.name': 't', 'host.id': 'é-1', 'process.pid': 42 }, (provider) => {
    const tracer = provider.getTracer('scope', '1.0.0')
    const parent = remoteParent()
    const span = tracer.startSpan(
      'every value',
      {
        kind: SpanKind.SERVER,
        links: [
          { context: { traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', spanId: 'bbbbbbbbbbbbbbbb', traceFlags: 1, traceState: new TraceState('k=v') }, attributes: { 'link.kind': 'retry-of' } },
          { context: { traceId: 'cccccccccccccccccccccccccccccccc', spanId: 'dddddddddddddddd', traceFlags: 0, isRemote: true } },
        ],
      },
      parent,
    )
    span.setAttributes({
      ascii: 'plain',
      // Keys that are not ASCII, with values that are and are not.
      'clé': 7,
      'ключ': 'значение',
      'schlüssel': 'plain',
      // Right at the edge of the one-byte-lengths path: key and value of 55 characters each, and one more.
      ['k'.repeat(55)]: 'v'.repeat(55),
      ['k'.repeat(56)]: 'v'.repeat(55),
      ['n'.repeat(105)]: 2 ** 32 - 1,
      unicode: 'héllo "quoted"\n ✓ 𝄞',
      empty: '',
      zero: 0,
      small: 127,
      varint2: 128,
      u32: 0xffffffff,
      past32: 2 ** 32 + 5,
      past53: 2 ** 60,
      negative: -1,
      negativeBig: -(2 ** 40) - 3,
      minInt64: -(2 ** 63),
      float: 0.25,
      negativeFloat: -1.5e-300,
      huge: 1e300,
      notANumber: Number.NaN,
      infinity: Number.POSITIVE_INFINITY,
      yes: true,
      no: false,
      strings: ['stop', 'length', ''],
      numbers: [1, 2.5, -3],
      flags: [true, false],
      withNull: ['a', null, 'b'],
      emptyList: [],
      // Longer than 127 characters (a two-byte length) and longer than 16 KiB (three bytes), in ASCII and not.
      long: 'x'.repeat(200),
      longUnicode: 'ü'.repeat(100),
      veryLong: 'y'.repeat(20_000),
    })
    span.addEvent('gen_ai.first_chunk')
    span.addEvent('with.attributes', { 'event.n': 3, 'event.s': 'ß' })
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'engine_error: HTTP 503' })
    span.end()
    tracer.startSpan('child', { kind: SpanKind.CLIENT }, trace.setSpan(parent, span)).end()
    tracer.startSpan('ok', { kind: SpanKind.INTERNAL }).setStatus({ code: SpanStatusCode.OK }).end()
    // Every kind, and a span with no version scope.
    for (const kind of [SpanKind.PRODUCER, SpanKind.CONSUMER]) provider.getTracer('other-scope').startSpan(`kind ${kind}`, { kind }).end()
    provider.getTracer('schema-scope', '2', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }).startSpan('').end()
  })
  expectSameBytes(spans)
  expect(spans.length).toBe(6)
})

test('spans of two resources and many spans in one batch encode to the same bytes; a batch starts empty after take', () => {
  const first = recorded({ 'service.name': 'a' }, (p) => {
    for (let i = 0; i < 300; i++) gatewayLike(p, i)
  })
  const second = recorded({ 'service.name': 'b' }, (p) => gatewayLike(p, 0))
  // Interleaved: grouping is by resource and scope, as the SDK serializer groups them.
  const mixed = [...first.slice(0, 3), ...second, ...first.slice(3)]
  const bytes = expectSameBytes(mixed)
  // A request over 2 MiB would take a four-byte length; this one takes three (past 16 KiB).
  expect(bytes.length).toBeGreaterThan(16_384)
  // The writers are reused: a second batch from the same batch object is still exact.
  expectSameBytes(second)
  expectSameBytes(first.slice(0, 10))
})

test('int64 varints and fixed64 times are exact at their edges', () => {
  const varint = (v: number) => {
    const w = new ProtoWriter(1)
    w.int64(v)
    return hex(w.bytes())
  }
  // Reference: protobuf's int64 varint of BigInt(v) in two's complement.
  const reference = (v: number) => {
    let n = BigInt.asUintN(64, BigInt(v))
    const out: number[] = []
    while (n > 127n) {
      out.push(Number(n & 127n) | 128)
      n >>= 7n
    }
    out.push(Number(n))
    return hex(new Uint8Array(out))
  }
  for (const v of [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 62, -1, -128, -(2 ** 31), -(2 ** 32) - 1, -(2 ** 53) + 1, -(2 ** 63)])
    expect(varint(v)).toBe(reference(v))

  for (const [seconds, nanos] of [
    [0, 0],
    [1, 999_999_999],
    [1_763_900_000, 123_456_789],
    [4_294_967_295, 999_999_999],
    [9_223_372_035, 854_775_807],
  ] as const) {
    const w = new ProtoWriter(1)
    w.time([seconds, nanos])
    const expected = BigInt(seconds) * 1_000_000_000n + BigInt(nanos)
    expect(new DataView(w.buffer.buffer).getBigUint64(0, true)).toBe(expected)
  }
})

test('a batch grown past a megabyte (large recorded prompts) still encodes exactly, and so does the next, small one', () => {
  const big = recorded({ 'service.name': 'big' }, (p) => {
    const tracer = p.getTracer('sagellm-gateway', '0.1.0')
    for (let i = 0; i < 12; i++) tracer.startSpan(`chat ${i}`).setAttribute('gen_ai.input.messages', String(i).repeat(200_000)).end()
  })
  const small = recorded({ 'service.name': 'big' }, (p) => gatewayLike(p, 1))
  const batch = new EncodedSpanBatch()
  for (const [spans, reference] of [[big, big], [small, small], [big.slice(0, 1), big.slice(0, 1)]] as const) {
    for (const span of spans) batch.add(span)
    expect(batch.bytes).toBeGreaterThan(0)
    expect(hex(batch.take())).toBe(hex(ProtobufTraceSerializer.serializeRequest([...reference])!))
    expect(batch.bytes).toBe(0)
  }
})

test('spans of several scopes and resources come out grouped in the order each first appears in its batch, batch after batch', () => {
  const spans = recorded({ 'service.name': 'scopes' }, (p) => {
    for (const name of ['a', 'b', 'b', 'a']) p.getTracer(`scope-${name}`, '1').startSpan(`span of ${name}`).end()
  })
  const other = recorded({ 'service.name': 'other' }, (p) => p.getTracer('scope-a', '1').startSpan('other resource').end())
  const batch = new EncodedSpanBatch()
  const take = (list: ReadableSpan[]) => {
    for (const span of list) batch.add(span)
    return hex(batch.take())
  }
  // a then b; then b then a (the order of the second batch, not the first); then resources swapped.
  for (const list of [spans.slice(0, 2), spans.slice(2, 4), [other[0]!, spans[0]!], [spans[1]!, other[0]!, spans[3]!]])
    expect(take(list)).toBe(hex(ProtobufTraceSerializer.serializeRequest(list)!))
})

test('attribute values the SDK never records (key-value lists, bytes, mixed arrays) encode as the serializer encodes them', () => {
  const [model] = recorded({ 'service.name': 'hand-made' }, (p) => p.getTracer('t').startSpan('model').end())
  const values = {
    kvlist: { b: 'x', a: 1, nested: { deep: [true, 2.5, 'é'] } } as unknown,
    bytes: new Uint8Array([0, 1, 255]) as unknown,
    mixed: ['a', 1, false, null, undefined, 1.5, [2]] as unknown,
    empty: {} as unknown,
  } as Attributes
  const span = { ...model!, spanContext: () => model!.spanContext(), attributes: values } as ReadableSpan
  expectSameBytes([span])
})
