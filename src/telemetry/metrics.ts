// Every metric the gateway exports, in one place: the OpenTelemetry GenAI client metrics (with the
// semantic conventions' bucket boundaries), the gateway's own health and overhead, and the names the
// sageLLM dashboards scrape. Label values are bounded: operations, model ids and engine ids the
// registry knows, route templates, status codes, error codes.
import type { EngineRegistry } from '../control-plane/engine-registry'
import type { Router } from '../control-plane/router'
import { MetricsRegistry, RateWindow, RecentWindow } from './prometheus'

/** gen_ai.client.operation.duration (seconds). */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
/** gen_ai.client.token.usage ({token}). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
/** Time to first chunk (seconds), as gen_ai.server.time_to_first_token. */
const TTFC_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
/** Time per output chunk (seconds), as gen_ai.server.time_per_output_token. */
const TPOC_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5]
/** The gateway's own time and short waits (seconds). */
const FAST_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

const GENAI = ['gen_ai_operation_name', 'gen_ai_request_model', 'sagellm_engine_id'] as const
const CIRCUIT = { closed: 0, half_open: 1, open: 2 } as const

export interface MetricSources {
  readonly registry: EngineRegistry
  readonly router: Router
  /** Requests the gateway is still answering (queued, at an engine or streaming). */
  readonly inflight: () => number
}

/** `sources` is read at scrape time only (its router may be attached after the metrics exist). */
export function createGatewayMetrics(sources: MetricSources) {
  const { registry, inflight } = sources
  const prom = new MetricsRegistry()
  const engineGauge = (read: (e: EngineRegistry['all'][number]) => number) => () => registry.all.map((e) => [[e.id], read(e)] as const)
  const latency = new RecentWindow(1024)
  const outputTokens = new RateWindow(60)
  const metrics = {
    prom,
    latency,
    outputTokens,
    operationDuration: prom.histogram('gen_ai_client_operation_duration_seconds', 'GenAI operation duration, per engine attempt', [...GENAI, 'error_type'], DURATION_BUCKETS),
    tokenUsage: prom.histogram('gen_ai_client_token_usage', 'Tokens used per operation, by gen_ai_token_type (input, output)', [...GENAI, 'gen_ai_token_type'], TOKEN_BUCKETS),
    timeToFirstChunk: prom.histogram('gen_ai_client_operation_time_to_first_chunk_seconds', 'Time from sending a streamed request to its first chunk', GENAI, TTFC_BUCKETS),
    timePerOutputChunk: prom.histogram('gen_ai_client_operation_time_per_output_chunk_seconds', 'Time between output chunks after the first', GENAI, TPOC_BUCKETS),
    httpRequests: prom.counter('sagellm_gateway_http_requests_total', 'HTTP requests answered, by route template, method, status and error code', ['route', 'method', 'status', 'code']),
    overhead: prom.histogram('sagellm_gateway_overhead_seconds', 'Time spent in the gateway itself: request duration minus time waiting on engines', ['gen_ai_operation_name'], FAST_BUCKETS),
    retries: prom.counter('sagellm_gateway_retries_total', 'Engine attempts after the first one of a request', ['gen_ai_request_model']),
    retriesExhausted: prom.counter('sagellm_gateway_retries_exhausted_total', 'Requests that failed after every attempt', ['gen_ai_request_model']),
    queueWait: prom.histogram('sagellm_gateway_queue_wait_seconds', 'Time requests waited in the admission queue', [], WAIT_BUCKETS),
    routingDecisions: prom.counter('sagellm_gateway_routing_decisions_total', 'Engines chosen, by routing strategy', ['strategy']),
    sessionStore: prom.histogram('sagellm_gateway_session_store_seconds', 'Session store operations: history read when a turn starts, turn commit', ['operation'], FAST_BUCKETS),
    requests: prom.counter('sagellm_requests_total', 'Inference requests received (chat, completions, embeddings, messages)'),
  }
  prom.collected('sagellm_gateway_engine_in_flight', 'Requests in flight to each engine from this gateway', ['sagellm_engine_id'], engineGauge((e) => e.activeRequests))
  prom.collected('sagellm_gateway_engine_healthy', 'Whether each engine is READY (1) or not (0)', ['sagellm_engine_id'], engineGauge((e) => (e.state === 'READY' ? 1 : 0)))
  prom.collected('sagellm_gateway_engine_circuit_state', 'Circuit breaker of each engine: 0 closed, 1 half-open, 2 open', ['sagellm_engine_id'], engineGauge((e) => CIRCUIT[e.breaker.state]))
  prom.collected('sagellm_gateway_queue_depth', 'Requests waiting in the admission queue', [], () => [[[], sources.router.pendingRequests]])
  prom.collected('sagellm_pending_requests', 'Requests received and not yet answered (queued, at an engine, or streaming)', [], () => [[[], inflight()]])
  prom.collected('sagellm_tokens_per_second', 'Output tokens per second over the last minute', [], () => [[[], outputTokens.perSecond()]])
  prom.collected('sagellm_latency_p50_ms', 'Median duration of the last 1024 inference requests, in milliseconds', [], () => [[[], latency.quantile(0.5)]])
  return metrics
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>

/** The JSON twin of the dashboard gauges, for GET /v1/stats. */
export function statsOf(metrics: GatewayMetrics, sources: MetricSources) {
  return {
    requests_total: metrics.requests.total(),
    pending_requests: sources.inflight(),
    queue_depth: sources.router.pendingRequests,
    tokens_per_second: metrics.outputTokens.perSecond(),
    latency_p50_ms: metrics.latency.quantile(0.5),
    latency_p95_ms: metrics.latency.quantile(0.95),
    retries_total: metrics.retries.total(),
    retries_exhausted_total: metrics.retriesExhausted.total(),
    engines: sources.registry.all.map((e) => ({
      engine_id: e.id,
      state: e.state,
      in_flight: e.activeRequests,
      circuit_breaker: e.breaker.state,
    })),
  }
}
