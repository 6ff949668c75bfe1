// Finished spans as one flat list of strings and numbers that crosses to the export worker, and back
// into the shape the OTLP exporter reads. Flat, because the request thread pays for the hand-over:
// JSON of a flat list of primitives is several times cheaper than JSON (or a structured clone) of a
// batch of nested span objects. Only what OTLP carries is kept; the resource is sent once at start-up.
// Strings that recur in every span (span names, attribute keys, event names, the scope) are written
// once per batch and then as their index: most of a span's JSON was those keys.
import type { AttributeValue, Attributes, HrTime, Link, SpanKind } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace'

/** A batch of spans as written by `appendSpan`: a span is a run of fields, see the order there. */
export type FlatSpans = (string | number | AttributeValue | Attributes)[]

/** A batch being written: its flat list, and the index of each recurring string written so far. */
export class SpanBatch {
  readonly flat: FlatSpans = []
  private readonly strings = new Map<string, number>()
  count = 0

  /** A recurring string: the string itself the first time in this batch, its index after that. */
  ref(s: string): void {
    const index = this.strings.get(s)
    if (index !== undefined) this.flat.push(index)
    else {
      this.strings.set(s, this.strings.size)
      this.flat.push(s)
    }
  }
}

/**
 * Appends one span's fields to `batch`, in this order (* = a recurring string, see SpanBatch.ref):
 * name*, kind, trace id, span id, trace flags, tracestate ('' if none), parent span id ('' if none),
 * parent trace flags, parent is remote (0/1), start s, start ns, end s, end ns, duration s, duration
 * ns, status code, status message, scope name*, scope version*, dropped attributes, dropped events,
 * dropped links, then the attribute count and each key* and value, the event count and each event's
 * name*, time s, time ns and attributes (0 if none), the link count and each link's trace id, span id,
 * trace flags and attributes (0 if none).
 */
export function appendSpan(batch: SpanBatch, span: ReadableSpan): void {
  const out = batch.flat
  const context = span.spanContext()
  const parent = span.parentSpanContext
  batch.ref(span.name)
  out.push(
    span.kind,
    context.traceId,
    context.spanId,
    context.traceFlags,
    context.traceState?.serialize() ?? '',
    parent?.spanId ?? '',
    parent?.traceFlags ?? 0,
    parent?.isRemote ? 1 : 0,
    span.startTime[0],
    span.startTime[1],
    span.endTime[0],
    span.endTime[1],
    span.duration[0],
    span.duration[1],
    span.status.code,
    span.status.message ?? '',
  )
  batch.ref(span.instrumentationScope.name)
  batch.ref(span.instrumentationScope.version ?? '')
  out.push(span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount)
  const attributes = span.attributes
  let count = 0
  const at = out.push(0) - 1
  for (const key in attributes) {
    const value = attributes[key]
    if (value === undefined) continue
    batch.ref(key)
    out.push(value)
    count++
  }
  out[at] = count
  out.push(span.events.length)
  for (const event of span.events) {
    batch.ref(event.name)
    out.push(event.time[0], event.time[1], event.attributes ?? 0)
  }
  out.push(span.links.length)
  for (const link of span.links) out.push(link.context.traceId, link.context.spanId, link.context.traceFlags, link.attributes ?? 0)
  batch.count++
}

/** The spans of a flat batch, as the exporter reads them. */
export function readSpans(flat: FlatSpans, resource: Resource): ReadableSpan[] {
  const spans: ReadableSpan[] = []
  let i = 0
  const next = () => flat[i++]
  const str = () => flat[i++] as string
  const num = () => flat[i++] as number
  // Recurring strings: the string the first time (it takes the next index), its index after that.
  const strings: string[] = []
  const ref = () => {
    const v = flat[i++]
    if (typeof v === 'number') return strings[v]!
    strings.push(v as string)
    return v as string
  }
  while (i < flat.length) {
    const name = ref()
    const kind = num() as SpanKind
    const traceId = str()
    const spanId = str()
    const traceFlags = num()
    const traceState = str()
    const parentSpanId = str()
    const parentFlags = num()
    const parentRemote = num() === 1
    const startTime: HrTime = [num(), num()]
    const endTime: HrTime = [num(), num()]
    const duration: HrTime = [num(), num()]
    const statusCode = num()
    const statusMessage = str()
    const scope = { name: ref(), version: ref() || undefined }
    const dropped = [num(), num(), num()] as const
    const attributes: Attributes = {}
    for (let n = num(); n > 0; n--) attributes[ref()] = next() as AttributeValue
    const events: TimedEvent[] = []
    for (let n = num(); n > 0; n--) {
      const event: TimedEvent = { name: ref(), time: [num(), num()] }
      const eventAttributes = next()
      if (eventAttributes) event.attributes = eventAttributes as Attributes
      events.push(event)
    }
    const links: Link[] = []
    for (let n = num(); n > 0; n--) {
      const link: Link = { context: { traceId: str(), spanId: str(), traceFlags: num() } }
      const linkAttributes = next()
      if (linkAttributes) link.attributes = linkAttributes as Attributes
      links.push(link)
    }
    const context = { traceId, spanId, traceFlags, ...(traceState ? { traceState: new TraceState(traceState) } : {}) }
    spans.push({
      name,
      kind,
      spanContext: () => context,
      parentSpanContext: parentSpanId ? { traceId, spanId: parentSpanId, traceFlags: parentFlags, isRemote: parentRemote } : undefined,
      startTime,
      endTime,
      duration,
      status: statusMessage ? { code: statusCode, message: statusMessage } : { code: statusCode },
      attributes,
      links,
      events,
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: dropped[0],
      droppedEventsCount: dropped[1],
      droppedLinksCount: dropped[2],
    })
  }
  return spans
}
