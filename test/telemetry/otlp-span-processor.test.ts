// The exporting span processor: spans encoded as they end reach a real OTLP receiver through the
// OTLP/HTTP exporter with every field intact; batches leave when full or when their delay is up; an
// export that falls behind drops new spans (and says so) instead of holding an unbounded queue; a
// collector that refuses a batch is logged.
import { afterEach, expect, test } from 'bun:test'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace'
import { OtlpSpanProcessor, type OtlpSpanProcessorOptions } from '../../src/telemetry/otlp-span-processor'
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver'
import { Cleanup, captureLogs, remoteParent, SERVER } from '../helpers/telemetry'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const RESOURCE = { 'service.name': 'span-processor-test', 'service.version': '9.9.9' }

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver()
  cleanup.defer(() => r.stop())
  return r
}

/** A tracer whose spans go to an OtlpSpanProcessor made with `options`, and to `alongside` too. */
function tracerWith(options: Partial<OtlpSpanProcessorOptions> & { url: string }, alongside: SpanProcessor[] = []) {
  const logs = captureLogs('debug')
  const processor = new OtlpSpanProcessor({ headers: {}, log: logs.log, ...options })
  const provider = new TracerProvider({ resource: resourceFromAttributes(RESOURCE), sampler: new AlwaysOnSampler(), spanProcessors: [processor, ...alongside] })
  cleanup.defer(() => provider.shutdown())
  return { tracer: provider.getTracer('test-scope', '1.2.3'), processor, logs }
}

/** A collector that reads each export and answers only once released (or never). */
function heldCollector() {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let received = 0
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      await req.arrayBuffer()
      received++
      await released
      return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } })
    },
  })
  cleanup.defer(() => (release(), server.stop(true)))
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, release, received: () => received }
}

test('every field of a span arrives at the collector as the SDK recorded it', async () => {
  const r = await receiver()
  const { tracer, processor } = tracerWith({ url: `${r.url}/v1/traces` })
  const parent = remoteParent()
  const span = tracer.startSpan(
    'POST /v1/chat/completions',
    {
      kind: SpanKind.SERVER,
      attributes: { 'str.attr': 'héllo "quoted"\n', 'int.attr': 42, 'float.attr': 0.25, 'bool.attr': true, 'list.attr': ['stop', 'length'] },
      links: [{ context: { traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', spanId: 'bbbbbbbbbbbbbbbb', traceFlags: 1 }, attributes: { 'link.kind': 'retry-of' } }],
    },
    parent,
  )
  span.addEvent('gen_ai.first_chunk')
  span.addEvent('with.attributes', { 'event.n': 3 })
  span.setAttribute('late.attr', 'set after start')
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'engine_error: HTTP 503' })
  span.end()
  const child = tracer.startSpan('chat m', { kind: SpanKind.CLIENT }, trace.setSpan(parent, span))
  child.end()
  await processor.forceFlush()

  const [server, client] = await r.waitForSpans((s) => s.length === 2)
  expect(server!.name).toBe('POST /v1/chat/completions')
  expect(server!.kind).toBe(SERVER)
  expect(server!.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
  expect(server!.spanId).toBe(span.spanContext().spanId)
  expect(server!.parentSpanId).toBe('00f067aa0ba902b7')
  expect(server!.traceState).toBe('vendor=abc,other=1')
  // W3C flags, plus "has is_remote" (0x100) and "parent is remote" (0x200).
  expect(server!.flags).toBe(0x301)
  expect(server!.attributes).toEqual({
    'str.attr': 'héllo "quoted"\n',
    'int.attr': 42,
    'float.attr': 0.25,
    'bool.attr': true,
    'list.attr': ['stop', 'length'],
    'late.attr': 'set after start',
  })
  expect(server!.events.map((e) => [e.name, e.attributes])).toEqual([
    ['gen_ai.first_chunk', {}],
    ['with.attributes', { 'event.n': 3 }],
  ])
  expect(server!.links).toEqual([{ traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', spanId: 'bbbbbbbbbbbbbbbb', traceState: '', attributes: { 'link.kind': 'retry-of' } }])
  expect(server!.status).toEqual({ code: 2, message: 'engine_error: HTTP 503' })
  expect(server!.endTimeUnixNano).toBeGreaterThanOrEqual(server!.startTimeUnixNano)
  expect(server!.resource).toEqual(RESOURCE)
  expect(server!.scope).toBe('test-scope')
  expect(client!.parentSpanId).toBe(server!.spanId)
  expect(client!.flags).toBe(0x101)
  expect(client!.status).toEqual({ code: 0, message: '' })
})

test('a full batch goes at once; the rest waits for its delay, or a flush', async () => {
  const r = await receiver()
  const { tracer, processor } = tracerWith({ url: `${r.url}/v1/traces`, batchSize: 3, delayMs: 60_000 })
  for (let i = 0; i < 7; i++) tracer.startSpan(`span ${i}`).end()
  await r.waitForSpans((s) => s.length === 6)
  expect(r.requests).toBe(2)
  await processor.forceFlush()
  expect(r.spans.map((s) => s.name)).toEqual(['span 0', 'span 1', 'span 2', 'span 3', 'span 4', 'span 5', 'span 6'])
  expect(r.requests).toBe(3)
})

test('a batch that does not fill leaves after the delay', async () => {
  const r = await receiver()
  const { tracer } = tracerWith({ url: `${r.url}/v1/traces`, batchSize: 1000, delayMs: 30 })
  tracer.startSpan('alone').end()
  const [span] = await r.waitForSpans((s) => s.length === 1, 3000)
  expect(span!.name).toBe('alone')
})

test('while the collector does not answer, spans beyond max pending are dropped and the drop is logged', async () => {
  const collector = heldCollector()
  const { tracer, processor, logs } = tracerWith({ url: collector.url, batchSize: 2, delayMs: 60_000, maxPending: 4 })
  for (let i = 0; i < 10; i++) tracer.startSpan(`held ${i}`).end()
  const warnings = () => logs.lines.filter((l) => l.level === 'warning').map((l) => l.msg)
  expect(warnings()).toEqual(['span export is behind: dropping spans until the collector catches up'])
  collector.release()
  await processor.forceFlush()
  // Once the held batches are sent, spans are taken again, and the drop count is reported.
  tracer.startSpan('after').end()
  await processor.forceFlush()
  expect(collector.received()).toBe(3)
  expect(logs.lines.find((l) => l.msg === 'spans dropped while span export was behind')?.dropped).toBe(6)
})

test('the configured headers reach the collector; a batch the collector refuses is logged with its status and answer', async () => {
  const seen: { auth: string | null; type: string | null }[] = []
  const refusing = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      await req.arrayBuffer()
      seen.push({ auth: req.headers.get('authorization'), type: req.headers.get('content-type') })
      return new Response('bad request', { status: 400 })
    },
  })
  cleanup.defer(() => refusing.stop(true))
  const { tracer, processor, logs } = tracerWith({ url: `http://127.0.0.1:${refusing.port}/v1/traces`, headers: { authorization: 'Bearer collector-token' }, batchSize: 2, delayMs: 60_000 })
  tracer.startSpan('one').end()
  tracer.startSpan('two').end()
  await processor.forceFlush()
  expect(seen).toEqual([{ auth: 'Bearer collector-token', type: 'application/x-protobuf' }])
  const failure = logs.lines.find((l) => l.msg === 'span export failed')
  expect(failure?.level).toBe('warning')
  expect([failure?.batches, failure?.spans]).toEqual([1, 2])
  expect(failure?.status).toBe(400)
  expect(failure?.answer).toBe('bad request')
})

test('after shutdown, ended spans are not taken and nothing more is sent', async () => {
  const r = await receiver()
  const { tracer, processor } = tracerWith({ url: `${r.url}/v1/traces`, batchSize: 100, delayMs: 60_000 })
  tracer.startSpan('before').end()
  await processor.shutdown()
  expect(r.spans.map((s) => s.name)).toEqual(['before'])
  tracer.startSpan('after').end()
  await processor.forceFlush()
  expect(r.requests).toBe(1)
})

test('the OTLP exporter’s own settings apply: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip compresses each export', async () => {
  const r = await receiver()
  const encodings: (string | null)[] = []
  // In front of the receiver: notes each export's encoding and passes it on as it came.
  const front = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      encodings.push(req.headers.get('content-encoding'))
      return fetch(`${r.url}/v1/traces`, { method: 'POST', headers: req.headers, body: await req.arrayBuffer() })
    },
  })
  cleanup.defer(() => front.stop(true))
  process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = 'gzip'
  let made: ReturnType<typeof tracerWith>
  try {
    made = tracerWith({ url: `http://127.0.0.1:${front.port}/v1/traces`, batchSize: 100, delayMs: 60_000 })
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION
  }
  made.tracer.startSpan('compressed').setAttribute('padding', 'z'.repeat(2000)).end()
  await made.processor.forceFlush()
  expect(encodings).toEqual(['gzip'])
  expect(r.spans.map((s) => [s.name, String(s.attributes.padding).length])).toEqual([['compressed', 2000]])
})

test('an export is on the wire what exporter-trace-otlp-proto sends for the same spans: body, content type, headers', async () => {
  const requests: { body: string; headers: Record<string, string> }[] = []
  const capture = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const headers: Record<string, string> = {}
      for (const name of ['content-type', 'content-encoding', 'x-tenant']) headers[name] = req.headers.get(name) ?? ''
      requests.push({ body: Buffer.from(await req.arrayBuffer()).toString('hex'), headers })
      return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } })
    },
  })
  cleanup.defer(() => capture.stop(true))
  const url = `http://127.0.0.1:${capture.port}/v1/traces`
  // The same spans, kept as the SDK recorded them, for the reference exporter.
  const ended: ReadableSpan[] = []
  const keep = { onStart() {}, onEnd: (s: ReadableSpan) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }
  const { tracer, processor } = tracerWith({ url, headers: { 'x-tenant': 'blue' }, batchSize: 100, delayMs: 60_000 }, [keep])
  const server = tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER, attributes: { 'http.route': '/v1/chat/completions' } })
  tracer.startSpan('chat m', { kind: SpanKind.CLIENT, attributes: { 'gen_ai.request.temperature': 0.5, 'gen_ai.usage.input_tokens': 12 } }, trace.setSpan(context.active(), server)).end()
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'engine_error' })
  server.end()
  await processor.forceFlush()

  const reference = new OTLPTraceExporter({ url, headers: { 'x-tenant': 'blue' } })
  await new Promise<void>((resolve) => reference.export(ended, () => resolve()))
  await reference.shutdown()
  expect(ended).toHaveLength(2)
  expect(requests).toHaveLength(2)
  expect(requests[0]).toEqual(requests[1]!)
  expect(requests[0]!.headers['content-type']).toBe('application/x-protobuf')
})

test('a batch whose spans are large leaves once it holds batchBytes, before it has batchSize spans', async () => {
  const r = await receiver()
  const { tracer, processor } = tracerWith({ url: `${r.url}/v1/traces`, batchSize: 512, batchBytes: 10_000, delayMs: 60_000 })
  // About 4 KB each: the third crosses 10 000 bytes and the batch leaves; the fourth waits.
  for (let i = 0; i < 4; i++) tracer.startSpan(`big ${i}`).setAttribute('gen_ai.input.messages', 'p'.repeat(4000)).end()
  await r.waitForSpans((s) => s.length === 3)
  expect(r.requests).toBe(1)
  await processor.forceFlush()
  expect(r.spans.map((s) => s.name)).toEqual(['big 0', 'big 1', 'big 2', 'big 3'])
  expect(r.requests).toBe(2)
})

test('while a stalled collector holds eight exports, the next batch waits and fills (up to maxPending) and leaves as one when an export ends', async () => {
  const r = await receiver()
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let inFlight = 0
  let mostInFlight = 0
  // In front of the receiver: holds every export until released, counting how many wait at once.
  const stalled = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = await req.arrayBuffer()
      mostInFlight = Math.max(mostInFlight, ++inFlight)
      await released
      inFlight--
      return fetch(`${r.url}/v1/traces`, { method: 'POST', headers: req.headers, body })
    },
  })
  cleanup.defer(() => stalled.stop(true))
  // One span per batch (each leaves by its 1 ms timer) until eight exports wait; the rest gather.
  const { tracer, processor, logs } = tracerWith({ url: `http://127.0.0.1:${stalled.port}/v1/traces`, delayMs: 1, maxPending: 45 })
  for (let i = 0; i < 50; i++) {
    tracer.startSpan(`small ${i}`).end()
    await Bun.sleep(2)
  }
  const warnings = () => logs.lines.filter((l) => l.level === 'warning').map((l) => l.msg)
  expect(warnings()).toEqual(['span export is behind: dropping spans until the collector catches up'])
  expect(mostInFlight).toBe(8)
  release()
  await processor.forceFlush()
  // The eight held exports, then the 37 spans that gathered meanwhile in one; the last five were dropped.
  expect(r.requests).toBe(9)
  // (The eight held exports are released together: they may reach the receiver in any order.)
  expect(r.spans.map((s) => s.name).sort()).toEqual(Array.from({ length: 45 }, (_, i) => `small ${i}`).sort())
  expect(warnings()).not.toContain('span export failed')
})

test('a batch waiting behind eight held exports stops taking spans at four times batchBytes', async () => {
  const collector = heldCollector()
  const { tracer, processor, logs } = tracerWith({ url: collector.url, delayMs: 1, batchBytes: 10_000 })
  for (let i = 0; i < 8; i++) {
    tracer.startSpan(`held ${i}`).end()
    await Bun.sleep(3)
  }
  // About 2 KB a span: the waiting batch reaches 40 000 bytes after about 20 of them, then spans are dropped.
  for (let i = 0; i < 30; i++) tracer.startSpan(`waiting ${i}`).setAttribute('gen_ai.input.messages', 'q'.repeat(2000)).end()
  expect(logs.lines.filter((l) => l.level === 'warning').map((l) => l.msg)).toEqual(['span export is behind: dropping spans until the collector catches up'])
  collector.release()
  await processor.forceFlush()
  const dropped = logs.lines.find((l) => l.msg === 'spans dropped while span export was behind')?.dropped as number
  expect(dropped).toBeGreaterThanOrEqual(8)
  expect(dropped).toBeLessThanOrEqual(12)
})

test('a collector refusing every batch gets one failure line, then one per ten seconds with the count since; the rest at shutdown', async () => {
  const refusing = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: async (req) => (await req.arrayBuffer(), new Response('no', { status: 400 })) })
  cleanup.defer(() => refusing.stop(true))
  const { tracer, processor, logs } = tracerWith({ url: `http://127.0.0.1:${refusing.port}/v1/traces`, batchSize: 2, delayMs: 60_000 })
  for (let i = 0; i < 10; i++) tracer.startSpan(`refused ${i}`).end()
  await processor.forceFlush()
  const failures = () => logs.lines.filter((l) => l.msg === 'span export failed').map((l) => [l.batches, l.spans, l.status])
  expect(failures()).toEqual([[1, 2, 400]])
  await processor.shutdown()
  expect(failures()).toEqual([
    [1, 2, 400],
    [4, 8, 400],
  ])
})

test('failures within the ten-second window are logged once it has passed, with no further failure or shutdown needed', async () => {
  const refusing = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: async (req) => (await req.arrayBuffer(), new Response('no', { status: 400 })) })
  cleanup.defer(() => refusing.stop(true))
  const { tracer, processor, logs } = tracerWith({ url: `http://127.0.0.1:${refusing.port}/v1/traces`, batchSize: 1, failureLogMs: 1000 })
  const failures = () => logs.lines.filter((l) => l.msg === 'span export failed').map((l) => [l.batches, l.spans])
  tracer.startSpan('first').end()
  await processor.forceFlush()
  tracer.startSpan('second').end()
  tracer.startSpan('third').end()
  await processor.forceFlush()
  expect(failures()).toEqual([[1, 1]])
  await Bun.sleep(1300)
  expect(failures()).toEqual([
    [1, 1],
    [2, 2],
  ])
})

test('a shutdown the collector does not let finish ends after the flush timeout, saying how many spans were not sent and how many were dropped', async () => {
  const collector = heldCollector()
  const { tracer, processor, logs } = tracerWith({ url: collector.url, batchSize: 2, delayMs: 60_000, maxPending: 4, flushTimeoutMs: 200 })
  for (let i = 0; i < 7; i++) tracer.startSpan(`held ${i}`).end()
  const shutdown = processor.shutdown()
  // A second shutdown is the same one, not an early return.
  expect(processor.shutdown()).toBe(shutdown)
  await shutdown
  const warnings = logs.lines.filter((l) => l.level === 'warning')
  expect(warnings.map((l) => l.msg)).toEqual([
    'span export is behind: dropping spans until the collector catches up',
    'spans dropped while span export was behind',
    'span export did not finish at shutdown: spans not sent',
  ])
  expect(warnings[1]!.dropped).toBe(3)
  expect(warnings[2]!.spans).toBe(4)
  expect(collector.received()).toBe(2)
})

test('a flush under steady traffic ends once the spans ended before it are sent, not when traffic stops', async () => {
  const r = await receiver()
  // Each export takes a little while, so there is always one in flight while spans keep ending.
  const slow = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = await req.arrayBuffer()
      await Bun.sleep(15)
      return fetch(`${r.url}/v1/traces`, { method: 'POST', headers: req.headers, body })
    },
  })
  cleanup.defer(() => slow.stop(true))
  // With a flush timeout longer than the test's own, a flush that waited for the traffic to stop would fail the test.
  const { tracer, processor } = tracerWith({ url: `http://127.0.0.1:${slow.port}/v1/traces`, delayMs: 1, flushTimeoutMs: 60_000 })
  let n = 0
  const traffic = setInterval(() => tracer.startSpan(`steady ${n++}`).end(), 1)
  cleanup.defer(() => clearInterval(traffic))
  await Bun.sleep(50)
  const endedBefore = n
  await processor.forceFlush()
  const names = new Set(r.spans.map((s) => s.name))
  for (let i = 0; i < endedBefore; i++) expect(names.has(`steady ${i}`)).toBe(true)
  clearInterval(traffic)
})

test('exports a timed-out shutdown cut short are stopped, and not logged again as failures', async () => {
  const collector = heldCollector()
  const { tracer, processor, logs } = tracerWith({ url: collector.url, batchSize: 1, flushTimeoutMs: 200 })
  tracer.startSpan('held').end()
  await processor.shutdown()
  await Bun.sleep(300)
  expect(logs.lines.filter((l) => l.level === 'warning').map((l) => l.msg)).toEqual(['span export did not finish at shutdown: spans not sent'])
})
