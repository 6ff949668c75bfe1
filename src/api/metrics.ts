// GET /metrics (Prometheus text format) and GET /v1/stats (the sageLLM dashboard figures as JSON).
import { Elysia } from 'elysia'
import { statsOf, type GatewayMetrics, type MetricSources } from '../telemetry/metrics'

export function metricsRoutes(metrics: GatewayMetrics, sources: MetricSources) {
  return new Elysia({ name: 'metrics' })
    .get('/metrics', () => new Response(metrics.prom.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }), {
      detail: { tags: ['Gateway'], summary: 'Prometheus metrics: GenAI client metrics, gateway health and overhead, sageLLM dashboard gauges' },
    })
    .get('/v1/stats', () => statsOf(metrics, sources), {
      detail: { tags: ['Gateway'], summary: 'Requests, pending requests, tokens per second and latency percentiles as JSON' },
    })
}
