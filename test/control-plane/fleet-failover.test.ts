// Failover in a fleet of real loopback engines: one of three dies under 60 concurrent requests and only
// the streams it was already sending fail (each with an error event the SDK raises); everything else
// completes. Retries: a single engine's passing 503 is waited out with backoff, retries.max 0 makes the
// first failure final, and an engine's 4xx is never retried.
import { afterEach, expect, test } from 'bun:test'
import { APIError, BadRequestError, UnprocessableEntityError, RateLimitError } from 'openai'
import { jsonResponse, type FakeEngine } from '../helpers/fake-engine'
import { ask, countsOf, fire, Fleet, lastMessageOf, receivedBy, type Fired } from '../helpers/fleet'
import type { TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const chunk = (content: string) => ({ id: 'chatcmpl-e0', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })

/**
 * The engine that will die: it answers streams with two chunks and then nothing more, and holds
 * non-stream requests, so every request it takes is still in flight when it is stopped.
 */
function neverFinishing(engine: FakeEngine): void {
  engine.override = (req, signal) => {
    if (req.method !== 'POST') return undefined
    if (req.body?.stream !== true) return new Promise<Response>((resolve) => signal.addEventListener('abort', () => resolve(jsonResponse({}))))
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of ['Hel', 'lo']) controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk(piece))}\n\n`))
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  }
}

interface Outcome {
  readonly marker: string
  readonly stream: boolean
  chunks: number
}

function send(gw: TestGateway, marker: string, stream: boolean, outcome: Outcome): Promise<unknown> {
  const params = { model: 'm', messages: [{ role: 'user' as const, content: marker }], max_tokens: 12 }
  if (!stream) return gw.openai().chat.completions.create(params)
  return (async () => {
    const events = await gw.openai().chat.completions.create({ ...params, stream: true })
    for await (const _ of events) outcome.chunks++
  })()
}

test('an engine dying under 60 concurrent requests fails only the streams it was sending', async () => {
  const engines = await fleet.engines(3, { chunkDelayMs: 5 })
  const gw = await fleet.gateway(engines, { retries: { max: 2, backoff_base_ms: 20 } })
  const [dying] = engines
  neverFinishing(dying!)

  const outcomes: Outcome[] = Array.from({ length: 60 }, (_, i) => ({ marker: `req${i}`, stream: i % 2 === 0, chunks: 0 }))
  const requests: Fired<unknown>[] = outcomes.map((o) => fire(send(gw, o.marker, o.stream, o)))
  // Every request has reached an engine, and every stream on the dying engine has reached its client.
  const onDying = () => dying!.inference().map(lastMessageOf)
  const byMarker = new Map(outcomes.map((o) => [o.marker, o]))
  await waitFor(
    () => outcomes.every((o) => receivedBy(engines, o.marker).length > 0) && onDying().every((m) => !byMarker.get(m)!.stream || byMarker.get(m)!.chunks > 0),
    10_000,
    'all requests dispatched, dying engine streaming',
  )
  const streamsCut = new Set(onDying().filter((m) => byMarker.get(m)!.stream))
  const heldAnswers = onDying().filter((m) => !byMarker.get(m)!.stream)
  // Load-balanced over three engines, the dying one takes about a third of each kind.
  expect(streamsCut.size).toBeGreaterThan(0)
  expect(heldAnswers.length).toBeGreaterThan(0)

  await dying!.stop()
  const results = await Promise.all(requests.map((r) => r.result))
  const failed = outcomes.filter((_, i) => !results[i]!.ok)
  expect(failed.map((o) => o.marker).sort()).toEqual([...streamsCut].sort())
  for (const [i, r] of results.entries()) {
    if (r.ok) continue
    expect(r.error).toBeInstanceOf(APIError)
    expect((r.error as Error).message).toContain('failed mid-stream')
    expect(outcomes[i]!.chunks).toBe(2)
  }
  // The held non-stream requests were answered by the survivors.
  for (const marker of heldAnswers) {
    const by = receivedBy(engines, marker)
    expect(by).toHaveLength(2)
    expect(by[0]).toBe(0)
  }
  expect(gw.registry.get('e0')!.state).toBe('ERROR')

  // Afterwards the fleet of two serves everything.
  const after = Array.from({ length: 10 }, (_, i) => fire(send(gw, `after${i}`, i % 2 === 0, { marker: '', stream: false, chunks: 0 })))
  for (const r of await Promise.all(after.map((a) => a.result))) expect(r.ok).toBe(true)
})

test('a single engine answering 503 once is retried after backoff and the client gets the answer', async () => {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine], { retries: { max: 2, backoff_base_ms: 20, backoff_max_ms: 100 } })
  const arrivals: number[] = []
  engine.override = (req) => {
    if (req.method !== 'POST') return undefined
    arrivals.push(performance.now())
    return arrivals.length === 1 ? jsonResponse({ error: { message: 'model is loading' } }, 503) : undefined
  }
  const res = await ask(gw, 'hello')
  expect(res.choices[0]!.message.content).toContain('hello')
  expect(arrivals).toHaveLength(2)
  expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(18)
})

test('with retries.max 0 the first engine failure is final: 502, and no other engine is asked', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { retries: { max: 0 } })
  engines[1]!.override = (req) => (req.method === 'POST' ? jsonResponse({ error: { message: 'engine overloaded' } }, 500) : undefined)
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push(await ask(gw, `r${i}`).then(() => 200, (e: unknown) => (e as APIError).status ?? 0))
  expect(statuses.sort()).toEqual([200, 200, 502])
  expect(countsOf(engines)).toEqual([1, 1, 1])
})

test.each([
  [400, BadRequestError],
  [422, UnprocessableEntityError],
  [429, RateLimitError],
] as const)('an engine answering %i is not retried: the client gets it and one engine got one request', async (status, ErrorClass) => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { retries: { max: 2, backoff_base_ms: 1 } })
  for (const e of engines)
    e.override = (req) => (req.method === 'POST' ? jsonResponse({ error: { message: `engine said ${status}`, type: 'invalid_request_error', param: null, code: null } }, status) : undefined)
  const error = await ask(gw, 'rejected').then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(ErrorClass)
  expect((error as APIError).status).toBe(status)
  expect((error as APIError).message).toContain(`engine said ${status}`)
  expect(countsOf(engines).reduce((a, b) => a + b, 0)).toBe(1)
})
