// Failures of capacity and of engines on /v1/messages, over real loopback engines configured from a
// file: a full fleet with no queue is 429 rate_limit_error, engines that all answer 500 are 502
// api_error, and a model whose only engine is down is 529 overloaded_error (the OpenAI routes' 503),
// each raised by the SDK as its typed error and sent in Anthropic's envelope.
import { InternalServerError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import { anthropicClient, answerChats, chatRequests, expectAnthropicError, rejectionOf } from '../../helpers/anthropic'
import { jsonResponse } from '../../helpers/fake-engine'
import { engineStatus, fire, Fleet, holdAt } from '../../helpers/fleet'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { waitFor } from '../../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const ask = (content: string) => ({ model: 'm', max_tokens: 32, messages: [{ role: 'user' as const, content }] })

/** One engine with one slot, held busy by a first request, and no admission queue. */
async function busyFleet() {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine], { scheduling: { queue_size: 0 } }, () => ({ max_concurrency: 1 }))
  const gate = fleet.gate()
  holdAt(engine, gate)
  const busy = fire(anthropicClient(gw).messages.create(ask('busy')))
  await waitFor(() => gate.held === 1, 3000, 'the first request held at the engine')
  return { engine, gw, gate, busy }
}

test('a request finding the only slot taken and no queue is RateLimitError rate_limit_error with Retry-After', async () => {
  const { engine, gw, gate, busy } = await busyFleet()
  const error = await rejectionOf(anthropicClient(gw).messages.create(ask('rejected')))
  expect(error).toBeInstanceOf(RateLimitError)
  const limited = error as RateLimitError
  expect(limited.status).toBe(429)
  expect(limited.type).toBe('rate_limit_error')
  expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
  expect(chatRequests(engine)).toHaveLength(1)

  gate.open()
  const first = await busy.result
  expect(first.ok).toBe(true)
})

test('a full fleet answers 429 in the Anthropic envelope on the wire', async () => {
  const { gw, gate, busy } = await busyFleet()
  const message = await expectAnthropicError(await postJson(gw, '/v1/messages', ask('rejected')), 429, 'rate_limit_error')
  expect(message).toContain('queue is full')
  gate.open()
  expect((await busy.result).ok).toBe(true)
})

/** Two engines that answer every chat with a 500, no backoff between the attempts. */
async function failingFleet(): Promise<TestGateway> {
  const engines = await fleet.engines(2)
  engines.forEach((e, i) => answerChats(e, () => jsonResponse({ error: { message: `CUDA out of memory on engine ${i}` } }, 500)))
  return fleet.gateway(engines, { retries: { max: 1, backoff_base_ms: 0, backoff_max_ms: 0 } })
}

test('when every engine answers 500 the SDK raises InternalServerError 502 api_error naming each cause', async () => {
  const gw = await failingFleet()
  const error = await rejectionOf(anthropicClient(gw).messages.create(ask('hi')))
  expect(error).toBeInstanceOf(InternalServerError)
  const failed = error as InternalServerError
  expect(failed.status).toBe(502)
  expect(failed.type).toBe('api_error')
  expect(failed.apiMessage).toContain("'m'")
  expect(failed.apiMessage).toContain('CUDA out of memory on engine 0')
  expect(failed.apiMessage).toContain('CUDA out of memory on engine 1')
})

test('when every engine answers 500 a stream request is a 502 api_error envelope, not a stream', async () => {
  const gw = await failingFleet()
  const res = await postJson(gw, '/v1/messages', { ...ask('hi'), stream: true })
  await expectAnthropicError(res, 502, 'api_error')
})

const FAST_HEALTH = { health: { interval_seconds: 0.1, timeout_seconds: 1, failure_threshold: 1 } }

/** A gateway whose only engine for `m` was stopped and is known to be ERROR. */
async function deadFleet(): Promise<TestGateway> {
  const engine = await fleet.engine()
  const gw = await fleet.gateway([engine], FAST_HEALTH)
  await engine.stop()
  await waitFor(async () => (await engineStatus(gw, 'e0')).state === 'ERROR', 5000, 'e0 to be ERROR')
  return gw
}

test("a model whose only engine is down is OverloadedError 529 overloaded_error, not the OpenAI routes' 503", async () => {
  const gw = await deadFleet()
  const error = await rejectionOf(anthropicClient(gw).messages.create(ask('hi')))
  expect(error).toBeInstanceOf(OverloadedError)
  const overloaded = error as OverloadedError
  expect(overloaded.status).toBe(529)
  expect(overloaded.type).toBe('overloaded_error')
  expect(overloaded.apiMessage).toContain("'m'")
  // The same gateway's OpenAI route says 503 for the same condition.
  const openai = await postJson(gw, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  expect(openai.status).toBe(503)
})

test('a model whose only engine is down is a 529 overloaded_error envelope for streams too', async () => {
  const gw = await deadFleet()
  await expectAnthropicError(await postJson(gw, '/v1/messages', { ...ask('hi'), stream: true }), 529, 'overloaded_error')
})
