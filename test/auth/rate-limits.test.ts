// Per-key limits: rpm (a concurrent burst admits exactly the limit), max_concurrency (streams count
// until they end), tpm (prompt chars / 4 + max_tokens reserved at admission, settled with real usage);
// 429 rate_limit_exceeded with Retry-After and x-ratelimit-* headers on every keyed answer (streams and
// errors too); both SDKs' RateLimitError; count_tokens outside the limits; the admin key unlimited.
import { AuthenticationError as AnthropicAuthError, PermissionDeniedError as AnthropicPermissionError, RateLimitError as AnthropicRateLimitError } from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import { RateLimitError } from 'openai'
import { expectAnthropicError, rejectionOf } from '../helpers/anthropic'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import type { TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { holdInference } from '../helpers/management-api'
import { waitFor } from '../helpers/wait'
import { ADMIN_KEY, AuthFixtures, DURATION, anthropicAs, chatAs, createKey, expectOpenAIError, openaiAs, rateLimitHeaders, send, userSays } from '../helpers/auth'

const fixtures = new AuthFixtures()
afterEach(() => fixtures.cleanup())

/** A gateway in front of one fake engine serving `m` (so a test can hold its answers open). */
async function engineGateway(): Promise<{ engine: FakeEngine; gw: TestGateway }> {
  const engine = await startFakeEngine({ models: ['m'] })
  fixtures.defer(() => engine.stop())
  return { engine, gw: await fixtures.gateway(['--engine', engine.url, '--admin-key', ADMIN_KEY]) }
}

const chat = (gw: TestGateway, key: string, extra: Record<string, unknown> = {}) => chatAs(gw, key, 'm', extra)
const stream = (gw: TestGateway, key: string) => chat(gw, key, { stream: true })
const statuses = (answers: Response[]) => answers.map((r) => r.status).sort()

/**
 * A 429 rate_limit_exceeded with a Retry-After; `retryable` false when waiting cannot help (larger
 * than a minute's budget): then no Retry-After either.
 */
async function expectRateLimited(res: Response, retryable = true) {
  const error = await expectOpenAIError(res, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded', retryable })
  if (!retryable) {
    expect(res.headers.get('retry-after')).toBeNull()
    return error
  }
  const retryAfter = res.headers.get('retry-after') ?? ''
  expect(retryAfter).toMatch(/^\d+$/)
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
  // At most a 60 s window plus the one-second bucket the oldest request sits in.
  expect(Number(retryAfter)).toBeLessThanOrEqual(61)
  return error
}

test('rpm 5: a burst of 20 concurrent requests admits exactly 5; 15 get 429 with Retry-After and x-ratelimit headers', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 5 })
  const answers = await Promise.all(Array.from({ length: 20 }, () => chat(gw, key)))
  expect(statuses(answers)).toEqual([...Array(5).fill(200), ...Array(15).fill(429)])
  for (const res of answers.filter((r) => r.status === 429)) {
    expect(rateLimitHeaders(res)).toMatchObject({ 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0' })
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(DURATION)
    await expectRateLimited(res)
  }
  for (const res of answers.filter((r) => r.status === 200)) expect(res.headers.get('x-ratelimit-limit-requests')).toBe('5')
})

test('x-ratelimit-remaining-requests counts down 4, 3, 2, 1, 0 on successive requests, with limit and reset', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 5 })
  const seen: string[] = []
  for (let i = 0; i < 5; i++) {
    const res = await chat(gw, key)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('5')
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(DURATION)
    seen.push(res.headers.get('x-ratelimit-remaining-requests') ?? 'absent')
  }
  expect(seen).toEqual(['4', '3', '2', '1', '0'])
  await expectRateLimited(await chat(gw, key))
})

test('a key with only rpm gets the request headers and not the token headers', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 5 })
  expect(Object.keys(rateLimitHeaders(await chat(gw, key))).sort()).toEqual([
    'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests',
  ])
})

test('a key with rpm and tpm gets all six x-ratelimit headers', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 5, tpm: 10_000 })
  const headers = rateLimitHeaders(await chat(gw, key, { max_tokens: 10 }))
  expect(headers).toMatchObject({ 'x-ratelimit-limit-requests': '5', 'x-ratelimit-limit-tokens': '10000' })
  expect(Number(headers['x-ratelimit-remaining-tokens'])).toBeLessThan(10_000)
  expect(headers['x-ratelimit-reset-tokens']).toMatch(DURATION)
})

test('x-ratelimit headers are on a streamed answer', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 10 })
  const res = await stream(gw, key)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/event-stream')
  expect(rateLimitHeaders(res)).toMatchObject({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-remaining-requests': '9' })
  expect((await res.text()).trimEnd().endsWith('data: [DONE]')).toBe(true)
})

test('x-ratelimit headers are on an error answer (404 for an unknown model)', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 10 })
  const res = await chatAs(gw, key, 'no-such-model')
  expect(res.status).toBe(404)
  expect(res.headers.get('x-ratelimit-limit-requests')).toBe('10')
  expect(res.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/)
})

test('over rpm the OpenAI SDK (maxRetries 0) raises RateLimitError 429 rate_limit_exceeded', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 1 })
  const ask = () => openaiAs(gw, key).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  await ask()
  const error = await rejectionOf(ask())
  expect(error).toBeInstanceOf(RateLimitError)
  expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error' })
  expect((error as RateLimitError).headers.get('retry-after')).toMatch(/^\d+$/)
})

test("over rpm the Anthropic SDK raises RateLimitError, and the wire has Anthropic's envelope", async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 1 })
  const body = { model: 'm', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] }
  await anthropicAs(gw, key).messages.create(body)
  const error = await rejectionOf(anthropicAs(gw, key).messages.create(body))
  expect(error).toBeInstanceOf(AnthropicRateLimitError)
  expect(error).toMatchObject({ status: 429, type: 'rate_limit_error' })
  const res = await send(gw, 'POST', '/v1/messages', undefined, body, { 'x-api-key': key })
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
  await expectAnthropicError(res, 429, 'rate_limit_error')
})

test('max_concurrency 2: of 10 concurrent streams exactly 2 are admitted; after they end new ones are', async () => {
  const { engine, gw } = await engineGateway()
  const { key } = await createKey(gw, { max_concurrency: 2 })
  const held = holdInference(engine, 'm')
  const answers = await Promise.all(Array.from({ length: 10 }, () => stream(gw, key)))
  expect(statuses(answers)).toEqual([200, 200, ...Array(8).fill(429)])
  for (const res of answers.filter((r) => r.status === 429)) await expectRateLimited(res)
  // While the two are in flight a whole (non-streamed) request is refused too.
  expect((await chat(gw, key)).status).toBe(429)
  held.release()
  for (const res of answers.filter((r) => r.status === 200)) expect((await res.text()).trimEnd().endsWith('data: [DONE]')).toBe(true)
  await waitFor(async () => {
    const res = await stream(gw, key)
    return res.status === 200 && (await res.text()).includes('[DONE]')
  }, 5000, 'a stream to be admitted after the first two ended')
  const again = await Promise.all([stream(gw, key), stream(gw, key)])
  expect(statuses(again)).toEqual([200, 200])
  await Promise.all(again.map((r) => r.text()))
})

test('tpm: a request whose max_tokens alone is larger than tpm is 429 saying so, with the token headers, and not to be retried', async () => {
  const { engine, gw } = await engineGateway()
  const { key } = await createKey(gw, { tpm: 100 })
  const res = await chat(gw, key, { max_tokens: 101 })
  expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('100')
  // Waiting cannot make it fit: retryable false, x-should-retry: false and no Retry-After, so clients give up at once.
  const error = await expectRateLimited(res, false)
  expect(error.message).toMatch(/token/i)
  expect(error.message).toContain('100')
  expect(engine.inference()).toEqual([])
})

test('tpm: a request too large for the budget is told so even while the key is also over its rpm (no wait would help)', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 1, tpm: 100 })
  expect((await chat(gw, key, { max_tokens: 10 })).status).toBe(200)
  const error = await expectRateLimited(await chat(gw, key, { max_tokens: 101 }), false)
  expect(error.message).toContain('more than this key')
})

test('tpm: max_completion_tokens and Anthropic max_tokens are reserved like max_tokens', async () => {
  const { engine, gw } = await engineGateway()
  const { key } = await createKey(gw, { tpm: 100 })
  expect((await chat(gw, key, { max_completion_tokens: 101 })).status).toBe(429)
  const res = await send(gw, 'POST', '/v1/messages', undefined, { model: 'm', max_tokens: 101, messages: userSays() }, { 'x-api-key': key })
  await expectAnthropicError(res, 429, 'rate_limit_error')
  expect(engine.inference()).toEqual([])
})

test('tpm: the prompt counts at chars / 4, so a long prompt tips a request over that max_tokens alone would not', async () => {
  const { gw } = await engineGateway()
  const short = await createKey(gw, { tpm: 200 })
  const long = await createKey(gw, { tpm: 200 })
  expect((await chat(gw, short.key, { max_tokens: 150 })).status).toBe(200)
  // 400 characters: at least 100 tokens reserved for the prompt, 250 in all: more than a minute's 200.
  await expectRateLimited(await chat(gw, long.key, { max_tokens: 150, messages: userSays('x'.repeat(400)) }), false)
})

test('tpm: reservations of requests in flight add up at admission', async () => {
  const { engine, gw } = await engineGateway()
  const { key } = await createKey(gw, { tpm: 600 })
  const held = holdInference(engine, 'm')
  const first = await chat(gw, key, { max_tokens: 500, stream: true })
  expect(first.status).toBe(200)
  await expectRateLimited(await chat(gw, key, { max_tokens: 500 }))
  held.release()
  await first.text()
})

test('tpm: a finished request is settled with its real usage, freeing what it reserved beyond it', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { tpm: 600 })
  const first = await chat(gw, key, { max_tokens: 500 })
  expect(first.status).toBe(200)
  const used = (await readJson(first)).usage
  expect(used.total_tokens).toBeLessThan(90)
  expect((await chat(gw, key, { max_tokens: 500 })).status).toBe(200)
})

test('count_tokens checks the key and the model but counts against no limit', async () => {
  const { gw } = await engineGateway()
  const { key } = await createKey(gw, { rpm: 1, tpm: 50, models: ['m'] })
  const client = anthropicAs(gw, key)
  for (let i = 0; i < 3; i++) expect((await client.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(400) }] })).input_tokens).toBeGreaterThan(0)
  expect((await rejectionOf(client.messages.countTokens({ model: 'other', messages: [{ role: 'user', content: 'hi' }] })))).toBeInstanceOf(AnthropicPermissionError)
  expect((await rejectionOf(anthropicAs(gw, 'sk-sgl-unknown-000000000000000000000000000000000').messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })))).toBeInstanceOf(AnthropicAuthError)
  expect((await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })).type).toBe('message')
})

test('the admin key is unlimited even where virtual keys have limits', async () => {
  const { gw } = await engineGateway()
  await createKey(gw, { rpm: 1 })
  const answers = await Promise.all(Array.from({ length: 12 }, () => chat(gw, ADMIN_KEY)))
  expect(statuses(answers)).toEqual(Array(12).fill(200))
  expect(rateLimitHeaders(answers[0]!)).toEqual({})
})

test('a limit raised by PATCH takes effect for the next request', async () => {
  const { gw } = await engineGateway()
  const { id, key } = await createKey(gw, { rpm: 1 })
  expect((await chat(gw, key)).status).toBe(200)
  expect((await chat(gw, key)).status).toBe(429)
  const res = await send(gw, 'PATCH', `/v1/management/keys/${id}`, ADMIN_KEY, { rpm: null })
  expect(res.status).toBe(200)
  expect((await chat(gw, key)).status).toBe(200)
})
