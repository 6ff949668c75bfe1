// A loopback OTLP/HTTP trace receiver for tests: a real Bun.serve on 127.0.0.1 accepting POST /v1/traces
// (protobuf, or OTLP/JSON), decoding each ExportTraceServiceRequest into plain spans with a small
// hand-written protobuf reader (no collector, no generated code), and letting a test wait for the spans it
// expects. Field numbers follow opentelemetry-proto's trace/v1, common/v1 and resource/v1 protos.

/** An OTLP AnyValue: int64 becomes a number (exact up to 2^53), bytes a Uint8Array, kvlist an object, an empty value null. */
export type AttributeValue = string | number | boolean | null | Uint8Array | AttributeValue[] | { [key: string]: AttributeValue }
export type Attributes = Record<string, AttributeValue>

export interface ReceivedEvent {
  name: string
  timeUnixNano: bigint
  attributes: Attributes
}

export interface ReceivedLink {
  traceId: string
  spanId: string
  traceState: string
  attributes: Attributes
}

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** '' for a root span. */
  parentSpanId: string
  traceState: string
  name: string
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number
  startTimeUnixNano: bigint
  endTimeUnixNano: bigint
  attributes: Attributes
  events: ReceivedEvent[]
  links: ReceivedLink[]
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string }
  /** W3C trace flags in the low byte; 0x100 "has is_remote", 0x200 "parent is remote". */
  flags: number
  resource: Attributes
  scope: string
}

export interface OtlpReceiver {
  /** http://127.0.0.1:PORT, without a path: exporters want `${url}/v1/traces`. */
  readonly url: string
  /** Every span received, in arrival order (the same array across clear()). */
  readonly spans: ReceivedSpan[]
  /** Export requests accepted and decoded. */
  readonly requests: number
  /** Why requests were refused (undecodable body, wrong content type). */
  readonly errors: string[]
  /** Resolves with all spans once the predicate holds (checked now and on each new batch); rejects after timeoutMs. */
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>
  /** Forgets the spans, requests and errors received so far. */
  clear(): void
  /** Stops listening; pending waitForSpans calls reject. */
  stop(): Promise<void>
}

// --- protobuf wire format -------------------------------------------------------------------------

const VARINT = 0
const FIXED64 = 1
const LEN = 2
const FIXED32 = 5
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32']

/** One field as read off the wire: `int` holds varint/fixed values (unsigned), `bytes` the raw payload. */
interface WireField {
  readonly no: number
  readonly wire: number
  readonly int: bigint
  readonly bytes: Uint8Array
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function* wireFields(buf: Uint8Array, message: string): Generator<WireField> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let pos = 0
  const fail = (why: string): never => {
    throw new Error(`${message}: ${why} at byte ${pos} of ${buf.length}`)
  }
  const varint = (): bigint => {
    let value = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) fail('truncated varint')
      const byte = buf[pos++]!
      value |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return BigInt.asUintN(64, value)
    }
    return fail('varint longer than 10 bytes')
  }
  const take = (n: number): Uint8Array => {
    if (pos + n > buf.length) fail(`field needs ${n} bytes, only ${buf.length - pos} left`)
    pos += n
    return buf.subarray(pos - n, pos)
  }
  while (pos < buf.length) {
    const tag = varint()
    const no = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    if (no === 0) fail('field number 0')
    if (wire === VARINT) yield { no, wire, int: varint(), bytes: new Uint8Array(0) }
    else if (wire === FIXED64) {
      const bytes = take(8)
      yield { no, wire, int: view.getBigUint64(pos - 8, true), bytes }
    } else if (wire === FIXED32) {
      const bytes = take(4)
      yield { no, wire, int: BigInt(view.getUint32(pos - 4, true)), bytes }
    }
    else if (wire === LEN) {
      const length = varint()
      if (length > BigInt(buf.length - pos)) fail(`length ${length} of field ${no} overruns the message`)
      yield { no, wire, int: length, bytes: take(Number(length)) }
    } else fail(`unsupported wire type ${wire} (${WIRE_NAMES[wire] ?? 'invalid'}) for field ${no}`)
  }
}

function expectWire(f: WireField, wire: number, where: string): WireField {
  if (f.wire !== wire) throw new Error(`${where} (field ${f.no}) arrived as ${WIRE_NAMES[f.wire]}, expected ${WIRE_NAMES[wire]}`)
  return f
}
const lenOf = (f: WireField, where: string): Uint8Array => expectWire(f, LEN, where).bytes
const stringOf = (f: WireField, where: string): string => utf8.decode(lenOf(f, where))
const hexOf = (f: WireField, where: string): string => Buffer.from(lenOf(f, where)).toString('hex')
const fixed64Of = (f: WireField, where: string): bigint => expectWire(f, FIXED64, where).int
const int32Of = (f: WireField, where: string): number => Number(BigInt.asIntN(32, expectWire(f, VARINT, where).int))

function decodeAnyValue(buf: Uint8Array): AttributeValue {
  let value: AttributeValue = null
  for (const f of wireFields(buf, 'AnyValue')) {
    if (f.no === 1) value = stringOf(f, 'AnyValue.string_value')
    else if (f.no === 2) value = expectWire(f, VARINT, 'AnyValue.bool_value').int !== 0n
    else if (f.no === 3) value = Number(BigInt.asIntN(64, expectWire(f, VARINT, 'AnyValue.int_value').int))
    else if (f.no === 4) value = new DataView(expectWire(f, FIXED64, 'AnyValue.double_value').bytes.slice().buffer).getFloat64(0, true)
    else if (f.no === 5) {
      const items: AttributeValue[] = []
      for (const g of wireFields(lenOf(f, 'AnyValue.array_value'), 'ArrayValue')) if (g.no === 1) items.push(decodeAnyValue(lenOf(g, 'ArrayValue.values')))
      value = items
    } else if (f.no === 6) value = decodeKeyValues(lenOf(f, 'AnyValue.kvlist_value'), 1, 'KeyValueList')
    else if (f.no === 7) value = lenOf(f, 'AnyValue.bytes_value').slice()
  }
  return value
}

/** The `repeated KeyValue` field `fieldNo` of a message, as an object. */
function decodeKeyValues(buf: Uint8Array, fieldNo: number, message: string): Attributes {
  const out: Attributes = {}
  for (const f of wireFields(buf, message)) {
    if (f.no !== fieldNo) continue
    let key = ''
    let value: AttributeValue = null
    for (const g of wireFields(lenOf(f, `${message}.attributes`), 'KeyValue')) {
      if (g.no === 1) key = stringOf(g, 'KeyValue.key')
      else if (g.no === 2) value = decodeAnyValue(lenOf(g, 'KeyValue.value'))
    }
    out[key] = value
  }
  return out
}

function decodeEvent(buf: Uint8Array): ReceivedEvent {
  const event: ReceivedEvent = { name: '', timeUnixNano: 0n, attributes: decodeKeyValues(buf, 3, 'Span.Event') }
  for (const f of wireFields(buf, 'Span.Event')) {
    if (f.no === 1) event.timeUnixNano = fixed64Of(f, 'Event.time_unix_nano')
    else if (f.no === 2) event.name = stringOf(f, 'Event.name')
  }
  return event
}

function decodeLink(buf: Uint8Array): ReceivedLink {
  const link: ReceivedLink = { traceId: '', spanId: '', traceState: '', attributes: decodeKeyValues(buf, 4, 'Span.Link') }
  for (const f of wireFields(buf, 'Span.Link')) {
    if (f.no === 1) link.traceId = hexOf(f, 'Link.trace_id')
    else if (f.no === 2) link.spanId = hexOf(f, 'Link.span_id')
    else if (f.no === 3) link.traceState = stringOf(f, 'Link.trace_state')
  }
  return link
}

function decodeSpan(buf: Uint8Array, resource: Attributes, scope: string): ReceivedSpan {
  const span: ReceivedSpan = {
    traceId: '', spanId: '', parentSpanId: '', traceState: '', name: '', kind: 0, startTimeUnixNano: 0n, endTimeUnixNano: 0n,
    attributes: decodeKeyValues(buf, 9, 'Span'), events: [], links: [], status: { code: 0, message: '' }, flags: 0, resource, scope,
  }
  for (const f of wireFields(buf, 'Span')) {
    switch (f.no) {
      case 1: span.traceId = hexOf(f, 'Span.trace_id'); break
      case 2: span.spanId = hexOf(f, 'Span.span_id'); break
      case 3: span.traceState = stringOf(f, 'Span.trace_state'); break
      case 4: span.parentSpanId = hexOf(f, 'Span.parent_span_id'); break
      case 5: span.name = stringOf(f, 'Span.name'); break
      case 6: span.kind = int32Of(f, 'Span.kind'); break
      case 7: span.startTimeUnixNano = fixed64Of(f, 'Span.start_time_unix_nano'); break
      case 8: span.endTimeUnixNano = fixed64Of(f, 'Span.end_time_unix_nano'); break
      case 11: span.events.push(decodeEvent(lenOf(f, 'Span.events'))); break
      case 13: span.links.push(decodeLink(lenOf(f, 'Span.links'))); break
      case 15:
        for (const g of wireFields(lenOf(f, 'Span.status'), 'Status')) {
          if (g.no === 2) span.status.message = stringOf(g, 'Status.message')
          else if (g.no === 3) span.status.code = int32Of(g, 'Status.code')
        }
        break
      case 16: span.flags = Number(expectWire(f, FIXED32, 'Span.flags').int); break
    }
  }
  return span
}

/** Decodes a protobuf ExportTraceServiceRequest; throws on anything malformed. */
export function decodeExportTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = []
  for (const rs of wireFields(body, 'ExportTraceServiceRequest')) {
    if (rs.no !== 1) continue
    // Resource and scope may come in any order on the wire; spans need both.
    let resource: Attributes = {}
    const scopeSpans: Uint8Array[] = []
    for (const f of wireFields(lenOf(rs, 'resource_spans'), 'ResourceSpans')) {
      if (f.no === 1) resource = decodeKeyValues(lenOf(f, 'ResourceSpans.resource'), 1, 'Resource')
      else if (f.no === 2) scopeSpans.push(lenOf(f, 'ResourceSpans.scope_spans'))
    }
    for (const ss of scopeSpans) {
      let scope = ''
      const raw: Uint8Array[] = []
      for (const f of wireFields(ss, 'ScopeSpans')) {
        if (f.no === 1) for (const g of wireFields(lenOf(f, 'ScopeSpans.scope'), 'InstrumentationScope')) if (g.no === 1) scope = stringOf(g, 'InstrumentationScope.name')
        if (f.no === 2) raw.push(lenOf(f, 'ScopeSpans.spans'))
      }
      for (const s of raw) spans.push(decodeSpan(s, resource, scope))
    }
  }
  return spans
}

// --- OTLP/JSON: ids as hex, 64-bit numbers as strings or numbers, enums as numbers ----------------

interface JsonAnyValue {
  stringValue?: string
  boolValue?: boolean
  intValue?: string | number
  doubleValue?: string | number | null
  arrayValue?: { values?: JsonAnyValue[] }
  kvlistValue?: { values?: JsonKeyValue[] }
  bytesValue?: string
}
interface JsonKeyValue { key: string; value?: JsonAnyValue }
interface JsonSpan {
  traceId?: string; spanId?: string; parentSpanId?: string; traceState?: string; name?: string; kind?: number; flags?: number
  startTimeUnixNano?: string | number; endTimeUnixNano?: string | number; attributes?: JsonKeyValue[]
  events?: { name?: string; timeUnixNano?: string | number; attributes?: JsonKeyValue[] }[]
  links?: { traceId?: string; spanId?: string; traceState?: string; attributes?: JsonKeyValue[] }[]
  status?: { code?: number; message?: string }
}
interface JsonExportRequest {
  resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[] }[]
}

function jsonValue(v: JsonAnyValue | undefined): AttributeValue {
  if (v?.stringValue !== undefined) return v.stringValue
  if (v?.boolValue !== undefined) return v.boolValue
  if (v?.intValue !== undefined) return Number(v.intValue)
  // JSON.stringify writes ±Infinity and NaN as null (the SDK's JSON serializer does): nothing to recover.
  if (v?.doubleValue !== undefined) return v.doubleValue === null ? null : Number(v.doubleValue)
  if (v?.arrayValue) return (v.arrayValue.values ?? []).map(jsonValue)
  if (v?.kvlistValue) return jsonAttributes(v.kvlistValue.values)
  if (v?.bytesValue !== undefined) return new Uint8Array(Buffer.from(v.bytesValue, 'base64'))
  return null
}
const jsonAttributes = (kvs: JsonKeyValue[] = []): Attributes => Object.fromEntries(kvs.map((kv) => [kv.key, jsonValue(kv.value)]))
const jsonNanos = (t: string | number | undefined): bigint => BigInt(t ?? 0)
const jsonHex = (id: string | undefined): string => (id ?? '').toLowerCase()

export function decodeJsonExportTraceRequest(text: string): ReceivedSpan[] {
  const request = JSON.parse(text) as JsonExportRequest
  return (request.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s): ReceivedSpan => ({
        traceId: jsonHex(s.traceId), spanId: jsonHex(s.spanId), parentSpanId: jsonHex(s.parentSpanId), traceState: s.traceState ?? '',
        name: s.name ?? '', kind: s.kind ?? 0, startTimeUnixNano: jsonNanos(s.startTimeUnixNano), endTimeUnixNano: jsonNanos(s.endTimeUnixNano),
        attributes: jsonAttributes(s.attributes),
        events: (s.events ?? []).map((e) => ({ name: e.name ?? '', timeUnixNano: jsonNanos(e.timeUnixNano), attributes: jsonAttributes(e.attributes) })),
        links: (s.links ?? []).map((l) => ({ traceId: jsonHex(l.traceId), spanId: jsonHex(l.spanId), traceState: l.traceState ?? '', attributes: jsonAttributes(l.attributes) })),
        status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' }, flags: s.flags ?? 0,
        resource: jsonAttributes(rs.resource?.attributes), scope: ss.scope?.name ?? '',
      })),
    ),
  )
}

// --- the server ---------------------------------------------------------------------------------

interface Waiter {
  predicate: (spans: ReceivedSpan[]) => boolean
  settle: (error: Error | undefined) => void
}

/** With `tls` (a certificate and key) the receiver listens on https. */
export async function startOtlpReceiver(options: { tls?: { cert: string; key: string } } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const errors: string[] = []
  const waiters = new Set<Waiter>()
  let requests = 0

  // Settles every waiter whose predicate now holds (or throws).
  const check = (waiter: Waiter): boolean => {
    let done: boolean
    try {
      done = waiter.predicate(spans)
    } catch (e) {
      waiter.settle(e instanceof Error ? e : new Error(String(e)))
      return true
    }
    if (done) waiter.settle(undefined)
    return done
  }
  const refuse = (status: number, why: string): Response => {
    errors.push(why)
    return new Response(why, { status, headers: { 'content-type': 'text/plain' } })
  }

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: options.tls,
    async fetch(req) {
      if (new URL(req.url).pathname !== '/v1/traces') return new Response('not found', { status: 404 })
      if (req.method !== 'POST') return new Response('method not allowed', { status: 405, headers: { allow: 'POST' } })
      const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
      let body = new Uint8Array(await req.arrayBuffer())
      let batch: ReceivedSpan[]
      try {
        if (req.headers.get('content-encoding') === 'gzip') body = Bun.gunzipSync(body)
        if (type === 'application/x-protobuf') batch = decodeExportTraceRequest(body)
        else if (type === 'application/json') batch = decodeJsonExportTraceRequest(utf8.decode(body))
        else return refuse(415, `unsupported content-type '${type}'`)
      } catch (e) {
        return refuse(400, `undecodable ${type} export request: ${e instanceof Error ? e.message : String(e)}`)
      }
      requests++
      spans.push(...batch)
      for (const waiter of waiters) if (check(waiter)) waiters.delete(waiter)
      // An empty ExportTraceServiceResponse is zero bytes in protobuf and {} in JSON.
      return type === 'application/json' ? Response.json({}) : new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } })
    },
  })

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${server.port}`,
    get spans() {
      return spans
    },
    get requests() {
      return requests
    },
    errors,
    waitForSpans(predicate, timeoutMs = 5000) {
      return new Promise<ReceivedSpan[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          const seen = spans.map((s) => s.name).join(', ') || 'none'
          const refused = errors.length ? `; refused: ${errors.join(' | ')}` : ''
          reject(new Error(`timed out after ${timeoutMs} ms waiting for spans; received ${spans.length} (${seen})${refused}`))
        }, timeoutMs)
        const waiter: Waiter = {
          predicate,
          settle: (error) => {
            clearTimeout(timer)
            if (error) reject(error)
            else resolve(spans.slice())
          },
        }
        if (!check(waiter)) waiters.add(waiter)
      })
    },
    clear() {
      spans.length = 0
      errors.length = 0
      requests = 0
    },
    async stop() {
      for (const waiter of waiters) waiter.settle(new Error('the OTLP receiver stopped'))
      waiters.clear()
      await server.stop(true)
    },
  }
}
