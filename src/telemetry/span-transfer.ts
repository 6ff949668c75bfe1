// Finished spans as plain data that crosses to the export worker (structured clone), and back into the
// shape the OTLP exporter reads. Only what OTLP carries is kept; the resource is sent once at start-up.
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace'

export interface PlainSpan {
  name: string
  kind: SpanKind
  context: SpanContext
  /** The span's W3C tracestate, serialised. */
  traceState?: string
  parent?: SpanContext
  startTime: HrTime
  endTime: HrTime
  duration: HrTime
  status: SpanStatus
  attributes: Attributes
  links: Link[]
  events: TimedEvent[]
  scope: { name: string; version?: string }
  dropped: [attributes: number, events: number, links: number]
}

export function toPlainSpan(span: ReadableSpan): PlainSpan {
  const context = span.spanContext()
  return {
    name: span.name,
    kind: span.kind,
    // traceState is a class instance: only its serialised form crosses.
    context: { traceId: context.traceId, spanId: context.spanId, traceFlags: context.traceFlags, isRemote: context.isRemote },
    traceState: context.traceState?.serialize(),
    parent: span.parentSpanContext && { traceId: span.parentSpanContext.traceId, spanId: span.parentSpanContext.spanId, traceFlags: span.parentSpanContext.traceFlags, isRemote: span.parentSpanContext.isRemote },
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    links: span.links,
    events: span.events,
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  }
}

export function fromPlainSpan(plain: PlainSpan, resource: Resource): ReadableSpan {
  return {
    name: plain.name,
    kind: plain.kind,
    spanContext: () => (plain.traceState ? { ...plain.context, traceState: new TraceState(plain.traceState) } : plain.context),
    parentSpanContext: plain.parent,
    startTime: plain.startTime,
    endTime: plain.endTime,
    duration: plain.duration,
    status: plain.status,
    attributes: plain.attributes,
    links: plain.links,
    events: plain.events,
    ended: true,
    resource,
    instrumentationScope: plain.scope,
    droppedAttributesCount: plain.dropped[0],
    droppedEventsCount: plain.dropped[1],
    droppedLinksCount: plain.dropped[2],
  }
}
