// Tracing: an OpenTelemetry tracer exporting OTLP/protobuf in batches when an endpoint is configured; otherwise a no-op tracer whose spans cost nothing but still carry the
// client's W3C trace context to the engines. Spans are created with explicit parent contexts (no
// async-context machinery on the request path).
import { context as otelContext, trace, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace'
import { VERSION } from '../version'
import type { Logger } from './logger'
import type { TelemetryConfig } from './telemetry-config'
import { PooledIdGenerator } from './id-generator'
import { OtlpSpanProcessor } from './otlp-span-processor'

const propagator = new W3CTraceContextPropagator()

const headerGetter = {
  keys: (carrier: Headers) => [...carrier.keys()],
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
}

export interface Tracing {
  readonly tracer: Tracer
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean
  readonly captureContent: boolean
  /** The client's trace context (traceparent/tracestate), as the parent of the server span. */
  extract(headers: Headers): Context
  /** traceparent/tracestate for an outgoing engine request made under `ctx`. */
  inject(ctx: Context, headers: Record<string, string>): void
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>
}

export interface TracingOptions {
  readonly log: Logger
  /** Replaces the OTLP exporter's processor (tests and benchmarks). */
  readonly processor?: SpanProcessor
}

export function createTracing(config: TelemetryConfig, { log, processor }: TracingOptions): Tracing {
  const base = {
    captureContent: config.captureContent,
    extract: (headers: Headers) => propagator.extract(otelContext.active(), headers, headerGetter),
    inject: (ctx: Context, headers: Record<string, string>) => propagator.inject(ctx, headers, { set: (c, k, v) => (c[k] = v) }),
  }
  if (!config.tracesEndpoint && !processor) {
    return { ...base, tracer: trace.getTracer('sagellm-gateway'), enabled: false, shutdown: async () => {} }
  }
  // Spans are encoded as they end and sent in batches: no span object outlives its end.
  const spanProcessor = processor ?? new OtlpSpanProcessor({ url: config.tracesEndpoint!, headers: config.headers, log })
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': VERSION }),
    sampler: samplerOf(config),
    idGenerator: new PooledIdGenerator(),
    spanProcessors: [spanProcessor],
  })
  log.info('tracing enabled', { endpoint: config.tracesEndpoint, service_name: config.serviceName, sampler: config.sampler })
  return {
    ...base,
    tracer: provider.getTracer('sagellm-gateway', VERSION),
    enabled: true,
    shutdown: () => provider.shutdown().catch((e: unknown) => log.warning('trace export at shutdown failed', { error: String(e) })),
  }
}

function samplerOf(config: TelemetryConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio)
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return ratio
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio })
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
  }
}

/** The context whose active span is `span`, for children and for propagation. */
export function contextWith(parent: Context, span: Span): Context {
  return trace.setSpan(parent, span)
}
