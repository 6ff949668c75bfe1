// GET /metrics after a known workload through the official SDK on two loopback engines (chats, streams,
// an embedding, an unknown model, a 5xx failed over): the exposition parses strictly, and every figure
// matches what the engines were asked and answered. Then the admission queue's depth and wait.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { NotFoundError } from 'openai'
import { isChat } from '../helpers/anthropic'
import { jsonResponse, type FakeEngine, type RecordedRequest } from '../helpers/fake-engine'
import { ask, fire, Fleet, holdAt, lastMessageOf } from '../helpers/fleet'
import type { TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { histogram, parsePrometheus, sampleValue, type ParsedExposition, type Sample } from '../helpers/prometheus-text'
import { waitFor } from '../helpers/wait'

/** The OpenTelemetry GenAI semantic conventions' explicit bucket boundaries. */
const DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, Infinity]
const TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, Infinity]

interface Scrape {
  contentType: string
  text: string
  parsed: ParsedExposition
}

async function scrape(gw: TestGateway): Promise<Scrape> {
  const res = await gw.fetch('/metrics')
  expect(res.status).toBe(200)
  const text = await res.text()
  return { contentType: res.headers.get('content-type') ?? '', text, parsed: parsePrometheus(text) }
}

/** The samples of a family (or of one of its sample names: `x_count`). */
function samplesOf(parsed: ParsedExposition, family: string, name = family): Sample[] {
  return parsed.families.get(family)?.samples.filter((s) => s.name === name) ?? []
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

describe('after a known workload', () => {
  const fleet = new Fleet()
  let engines: FakeEngine[]
  let gw: TestGateway
  let metrics: Scrape
  let stats: any
  let failedAttempt: RecordedRequest | undefined
  const usage = { input: [] as number[], output: [] as number[] }
  const privateIds = { requestId: `rid-${crypto.randomUUID()}`, sessionId: `sid-${crypto.randomUUID()}`, model: `model-${crypto.randomUUID()}` }

  beforeAll(async () => {
    engines = await fleet.engines(2, { chunkDelayMs: 10 })
    gw = await fleet.gateway(engines)
    for (const engine of engines) {
      engine.override = (req) => {
        if (!isChat(req) || lastMessageOf(req) !== 'fail once' || failedAttempt) return undefined
        failedAttempt = req
        return jsonResponse({ error: { message: 'CUDA out of memory' } }, 500)
      }
    }
    const client = gw.openai()
    const chats = [
      ask(gw, 'one'),
      ask(gw, 'two'),
      ask(gw, 'three', { headers: { 'x-request-id': privateIds.requestId }, body: { session_id: privateIds.sessionId } }),
      ask(gw, 'fail once'),
    ]
    for (const answer of await Promise.all(chats)) {
      usage.input.push(answer.usage!.prompt_tokens)
      usage.output.push(answer.usage!.completion_tokens)
    }
    for (const text of ['stream one', 'stream two']) {
      const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: text }], max_tokens: 8, stream: true, stream_options: { include_usage: true } })
      for await (const chunk of stream) {
        if (!chunk.usage) continue
        usage.input.push(chunk.usage.prompt_tokens)
        usage.output.push(chunk.usage.completion_tokens)
      }
    }
    const embedding = await client.embeddings.create({ model: 'm', input: 'a lighthouse' })
    usage.input.push(embedding.usage.prompt_tokens)
    const unknown = await client.chat.completions.create({ model: privateIds.model, messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e)
    expect(unknown).toBeInstanceOf(NotFoundError)
    expect((await gw.fetch(`/v1/models/${privateIds.model}`)).status).toBe(404)

    // A request's count goes in once its answer is out, a moment after the client has it.
    await waitFor(async () => sum(samplesOf((await scrape(gw)).parsed, 'sagellm_gateway_http_requests_total').filter((s) => s.labels.route !== '/metrics').map((s) => s.value)) === 9, 3000, 'nine requests counted')
    metrics = await scrape(gw)
    stats = await readJson(await gw.fetch('/v1/stats'))
  })
  afterAll(() => fleet.cleanup())

  test('the exposition is Prometheus text format 0.0.4 and parses strictly', () => {
    expect(metrics.contentType).toStartWith('text/plain')
    expect(metrics.contentType).toContain('version=0.0.4')
    expect(metrics.parsed.families.size).toBeGreaterThan(10)
  })

  test('gen_ai_client_operation_duration_seconds counts each engine attempt by operation, model, engine and error type', () => {
    const expected: Record<string, number> = {}
    engines.forEach((engine, i) => {
      for (const req of engine.inference()) {
        const key = [req.path.endsWith('/embeddings') ? 'embeddings' : 'chat', req.body.model, `e${i}`, req === failedAttempt ? '500' : ''].join('|')
        expected[key] = (expected[key] ?? 0) + 1
      }
    })
    const counted: Record<string, number> = {}
    for (const s of samplesOf(metrics.parsed, 'gen_ai_client_operation_duration_seconds', 'gen_ai_client_operation_duration_seconds_count')) {
      const { gen_ai_operation_name, gen_ai_request_model, sagellm_engine_id, error_type } = s.labels
      counted[[gen_ai_operation_name, gen_ai_request_model, sagellm_engine_id, error_type].join('|')] = s.value
    }
    expect(counted).toEqual(expected)
    expect(sum(Object.values(counted))).toBe(8)
    expect(Object.keys(counted).filter((k) => k.endsWith('|500'))).toHaveLength(1)
  })

  test('gen_ai_client_token_usage counts and sums the tokens the engines reported, by token type', () => {
    const series = samplesOf(metrics.parsed, 'gen_ai_client_token_usage', 'gen_ai_client_token_usage_count')
    const byType = (type: string, name: string) =>
      sum(samplesOf(metrics.parsed, 'gen_ai_client_token_usage', name).filter((s) => s.labels.gen_ai_token_type === type).map((s) => s.value))
    expect(series.length).toBeGreaterThan(0)
    expect(byType('input', 'gen_ai_client_token_usage_count')).toBe(usage.input.length)
    expect(byType('input', 'gen_ai_client_token_usage_sum')).toBe(sum(usage.input))
    expect(byType('output', 'gen_ai_client_token_usage_count')).toBe(usage.output.length)
    expect(byType('output', 'gen_ai_client_token_usage_sum')).toBe(sum(usage.output))
  })

  test('time to first chunk is observed once per stream', () => {
    const counts = samplesOf(metrics.parsed, 'gen_ai_client_operation_time_to_first_chunk_seconds', 'gen_ai_client_operation_time_to_first_chunk_seconds_count')
    expect(sum(counts.map((s) => s.value))).toBe(2)
  })

  test('sagellm_gateway_overhead_seconds is labelled with the GenAI operation names the gen_ai_* metrics use', () => {
    const counts = Object.fromEntries(
      samplesOf(metrics.parsed, 'sagellm_gateway_overhead_seconds', 'sagellm_gateway_overhead_seconds_count').map((s) => [s.labels.gen_ai_operation_name, s.value]),
    )
    // Six chats (two streamed), the unknown model's refused chat, and one embedding: one per inference request.
    expect(counts).toEqual({ chat: 7, embeddings: 1 })
  })

  test('sagellm_gateway_http_requests_total counts by route template, method, status and code', () => {
    const requests = (labels: Record<string, string>) => sampleValue(metrics.parsed, 'sagellm_gateway_http_requests_total', labels)
    expect(requests({ route: '/v1/chat/completions', method: 'POST', status: '200', code: '' })).toBe(6)
    expect(requests({ route: '/v1/embeddings', method: 'POST', status: '200', code: '' })).toBe(1)
    expect(requests({ route: '/v1/chat/completions', method: 'POST', status: '404', code: 'model_not_found' })).toBe(1)
    expect(requests({ route: '/v1/models/*', method: 'GET', status: '404', code: 'model_not_found' })).toBe(1)
  })

  test('the failed-over request is one retry, and no request exhausted its retries', () => {
    expect(sampleValue(metrics.parsed, 'sagellm_gateway_retries_total', { gen_ai_request_model: 'm' })).toBe(1)
    expect(samplesOf(metrics.parsed, 'sagellm_gateway_retries_exhausted_total')).toEqual([])
  })

  test('both engines are healthy with a closed circuit breaker', () => {
    for (const id of ['e0', 'e1']) {
      expect(sampleValue(metrics.parsed, 'sagellm_gateway_engine_healthy', { sagellm_engine_id: id })).toBe(1)
      expect(sampleValue(metrics.parsed, 'sagellm_gateway_engine_circuit_state', { sagellm_engine_id: id })).toBe(0)
      expect(sampleValue(metrics.parsed, 'sagellm_gateway_engine_in_flight', { sagellm_engine_id: id })).toBe(0)
    }
  })

  test('sagellm_requests_total counts every inference request and nothing is pending afterwards', () => {
    expect(sampleValue(metrics.parsed, 'sagellm_requests_total')).toBe(8)
    expect(sampleValue(metrics.parsed, 'sagellm_pending_requests')).toBe(0)
    expect(sampleValue(metrics.parsed, 'sagellm_gateway_queue_depth')).toBe(0)
  })

  test('GenAI histograms use the semantic conventions bucket boundaries, cumulatively', () => {
    for (const [family, bounds] of [['gen_ai_client_operation_duration_seconds', DURATION_BOUNDS], ['gen_ai_client_token_usage', TOKEN_BOUNDS]] as const) {
      const series = samplesOf(metrics.parsed, family, `${family}_count`)
      expect(series.length).toBeGreaterThan(0)
      for (const { labels } of series) {
        const { buckets, count } = histogram(metrics.parsed, family, labels)!
        expect(buckets.map(([le]) => le)).toEqual([...bounds])
        buckets.forEach(([, n], i) => expect(n).toBeGreaterThanOrEqual(buckets[i - 1]?.[1] ?? 0))
        expect(buckets.at(-1)![1]).toBe(count)
      }
    }
  })

  test('a request id, a session id, an unknown model and a raw path never become label values', () => {
    const values = new Set([...metrics.parsed.families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels))))
    for (const id of Object.values(privateIds)) {
      expect(metrics.text).not.toContain(id)
      expect(values.has(id)).toBe(false)
    }
  })

  test('GET /v1/stats agrees with the metrics', () => {
    expect(stats.requests_total).toBe(sampleValue(metrics.parsed, 'sagellm_requests_total')!)
    expect(stats.retries_total).toBe(1)
    expect(stats.retries_exhausted_total).toBe(0)
    expect(stats.pending_requests).toBe(0)
    expect(stats.queue_depth).toBe(0)
    expect(stats.latency_p50_ms).toBeGreaterThan(0)
    expect(stats.latency_p50_ms).toBe(sampleValue(metrics.parsed, 'sagellm_latency_p50_ms')!)
    expect(stats.engines.map((e: { engine_id: string; in_flight: number; circuit_breaker: string }) => [e.engine_id, e.in_flight, e.circuit_breaker])).toEqual([
      ['e0', 0, 'closed'],
      ['e1', 0, 'closed'],
    ])
  })
})

describe('the admission queue', () => {
  const fleet = new Fleet()
  afterEach(() => fleet.cleanup())

  /** One engine with one slot, taken by a request held at the engine, and a second request queued behind it. */
  async function queuedBehindHeld() {
    const [engine] = await fleet.engines(1)
    const gw = await fleet.gateway([engine!], {}, () => ({ max_concurrency: 1 }))
    const gate = fleet.gate()
    holdAt(engine!, gate)
    const held = fire(ask(gw, 'held'))
    await waitFor(() => gate.held === 1, 3000, 'the first request held at the engine')
    const queued = fire(ask(gw, 'queued'))
    await waitFor(async () => sampleValue((await scrape(gw)).parsed, 'sagellm_gateway_queue_depth') === 1, 3000, 'queue depth 1')
    return { gw, gate, held, queued }
  }

  test('sagellm_gateway_queue_depth shows the waiting request, and no wait is observed while it waits', async () => {
    const { gw, gate, held, queued } = await queuedBehindHeld()
    const { parsed } = await scrape(gw)
    expect(sampleValue(parsed, 'sagellm_gateway_queue_depth')).toBe(1)
    expect(sampleValue(parsed, 'sagellm_pending_requests')).toBe(2)
    expect(histogram(parsed, 'sagellm_gateway_queue_wait_seconds')?.count ?? 0).toBe(0)
    gate.open()
    for (const r of await Promise.all([held.result, queued.result])) expect(r.ok).toBe(true)
  })

  test('a queued request adds one observation to sagellm_gateway_queue_wait_seconds once it runs', async () => {
    const { gw, gate, held, queued } = await queuedBehindHeld()
    gate.open()
    for (const r of await Promise.all([held.result, queued.result])) expect(r.ok).toBe(true)
    const { parsed } = await scrape(gw)
    const wait = histogram(parsed, 'sagellm_gateway_queue_wait_seconds')!
    expect(wait.count).toBe(1)
    expect(wait.sum).toBeGreaterThan(0)
    expect(sampleValue(parsed, 'sagellm_gateway_queue_depth')).toBe(0)
  })
})
