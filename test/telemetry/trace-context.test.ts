// The W3C trace context an engine request carries: written straight from a span context, as the W3C
// propagator would write it (version 00, lowercase ids, two hex digits of flags, tracestate as is;
// an empty tracestate is left out, where the propagator sends an empty header), and nothing at all
// for an invalid context.
import { expect, test } from 'bun:test'
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api'
import { TraceState, W3CTraceContextPropagator } from '@opentelemetry/core'
import { injectTraceContext } from '../../src/telemetry/tracing'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN_ID = '00f067aa0ba902b7'

/** What the W3C propagator of @opentelemetry/core injects for the same context. */
function viaPropagator(span: SpanContext): Record<string, string> {
  const headers: Record<string, string> = {}
  new W3CTraceContextPropagator().inject(trace.setSpanContext(ROOT_CONTEXT, span), headers, { set: (c, k, v) => (c[k] = v) })
  return headers
}

test('traceparent and tracestate are what the W3C propagator writes, for sampled and unsampled contexts', () => {
  for (const span of [
    { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED },
    { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE },
    { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, traceState: new TraceState('vendor=abc,other=1') },
  ]) {
    const headers: Record<string, string> = { 'x-request-id': 'r' }
    injectTraceContext(span, headers)
    expect(headers).toEqual({ 'x-request-id': 'r', ...viaPropagator(span) })
  }
  const headers: Record<string, string> = {}
  injectTraceContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED }, headers)
  expect(headers).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` })
  // Flags are two hex digits whatever their value (the propagator writes "0" and then the digits).
  const flagged: Record<string, string> = {}
  injectTraceContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0x1f }, flagged)
  expect(flagged).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-1f` })
  const empty: Record<string, string> = {}
  injectTraceContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE, traceState: new TraceState('') }, empty)
  expect(empty).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` })
})

test('an invalid context (the untraced request’s) adds no header', () => {
  for (const span of [INVALID_SPAN_CONTEXT, { ...INVALID_SPAN_CONTEXT, traceId: TRACE_ID }, { ...INVALID_SPAN_CONTEXT, spanId: SPAN_ID }]) {
    const headers: Record<string, string> = {}
    injectTraceContext(span, headers)
    expect(headers).toEqual({})
    expect(viaPropagator(span)).toEqual({})
  }
})
