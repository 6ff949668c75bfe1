// POST /v1/messages/count_tokens through the SDK's messages.countTokens: the engine's own tokenizer
// (vLLM-style POST /tokenize beside /v1) counts the translated messages, so the count equals the
// prompt_tokens a chat with the same messages reports; an engine without /tokenize is a 501 saying why.
import type Anthropic from '@anthropic-ai/sdk'
import { NotImplementedError } from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { anthropicClient, expectAnthropicError, rejectionOf, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, type FakeEngine, type RecordedRequest } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const isTokenize = (req: RecordedRequest) => req.method === 'POST' && req.path === '/tokenize'
const conversation: Anthropic.MessageParam[] = [
  { role: 'user', content: 'My name is Ada and I like long walks.' },
  { role: 'assistant', content: 'Nice to meet you, Ada.' },
  { role: 'user', content: [{ type: 'text', text: 'What do I like?' }] },
]
const system = 'You are a helpful assistant with a good memory.'

test("input_tokens equals the prompt_tokens of a chat with the same system and messages", async () => {
  const counted = await client.messages.countTokens({ model: 'm', system, messages: conversation })
  const chat = await client.messages.create({ model: 'm', max_tokens: 16, system, messages: conversation })
  expect(counted.input_tokens).toBeGreaterThan(10)
  expect(counted.input_tokens).toBe(chat.usage.input_tokens)
})

test('a longer conversation counts more tokens', async () => {
  const short = await client.messages.countTokens({ model: 'm', messages: conversation.slice(0, 1) })
  const long = await client.messages.countTokens({ model: 'm', system, messages: conversation })
  expect(long.input_tokens).toBeGreaterThan(short.input_tokens)
})

test("the engine's /tokenize gets the translated messages and tools, with the generation prompt", async () => {
  const tools: Anthropic.Tool[] = [{ name: 'lookup', description: 'Look a fact up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }]
  await client.messages.countTokens({ model: 'm', system, messages: conversation, tools })
  const requests = engine.requests.filter(isTokenize)
  expect(requests).toHaveLength(1)
  expect(requests[0]!.body).toEqual({
    model: 'm',
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: 'My name is Ada and I like long walks.' },
      { role: 'assistant', content: 'Nice to meet you, Ada.' },
      { role: 'user', content: 'What do I like?' },
    ],
    add_generation_prompt: true,
    tools: [{ type: 'function', function: { name: 'lookup', description: 'Look a fact up', parameters: tools[0]!.input_schema } }],
  })
  // Counting generates nothing.
  expect(engine.requests.filter((r) => r.path.endsWith('/chat/completions'))).toEqual([])
})

test('the answer is exactly {input_tokens} with a request-id header', async () => {
  const { data, request_id } = await client.messages.countTokens({ model: 'm', messages: conversation }).withResponse()
  expect({ ...data }).toEqual({ input_tokens: data.input_tokens })
  expect(request_id).toBeTruthy()
})

test("/tokenize renders the prompt the chat would: a prefill's open last message, and the thinking switch", async () => {
  const prefill: Anthropic.MessageParam[] = [...conversation, { role: 'assistant', content: 'You like' }]
  await client.messages.countTokens({ model: 'm', messages: prefill, thinking: { type: 'enabled', budget_tokens: 1024 } })
  const requests = engine.requests.filter(isTokenize)
  expect(requests).toHaveLength(1)
  expect(requests[0]!.body).toMatchObject({ add_generation_prompt: false, continue_final_message: true, chat_template_kwargs: { enable_thinking: true } })
})

test('an engine without /tokenize makes count_tokens a 501 that the SDK does not retry (x-should-retry: false)', async () => {
  engine.override = (req) => (isTokenize(req) ? new Response('Not Found', { status: 404 }) : undefined)
  const retrying = anthropicClient(gw, { maxRetries: 2 })
  const error = await rejectionOf(retrying.messages.countTokens({ model: 'm', messages: conversation }))
  expect(error).toBeInstanceOf(NotImplementedError)
  expect(engine.requests.filter(isTokenize)).toHaveLength(1)
})

test('an engine without /tokenize makes count_tokens a 501 not_found_error that says why, through the SDK', async () => {
  engine.override = (req) => (isTokenize(req) ? jsonResponse({ detail: 'Not Found' }, 404) : undefined)
  const error = await rejectionOf(client.messages.countTokens({ model: 'm', messages: conversation }))
  expect(error).toBeInstanceOf(NotImplementedError)
  const apiError = error as NotImplementedError
  expect(apiError.status).toBe(501)
  expect(apiError.type).toBe('not_found_error')
  expect(apiError.apiMessage).toContain('/tokenize')
  expect(apiError.apiMessage).toContain("'m'")
})

test('an engine without /tokenize makes count_tokens a 501 in the Anthropic envelope on the wire', async () => {
  engine.override = (req) => (isTokenize(req) ? new Response('Not Found', { status: 404 }) : undefined)
  const res = await postJson(gw, '/v1/messages/count_tokens', { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  const message = await expectAnthropicError(res, 501, 'not_found_error')
  expect(message).toContain('has no /tokenize endpoint')
  expect(message).toContain('vLLM or SGLang')
})

test('count_tokens for an unknown model is a 404 not_found_error', async () => {
  const res = await postJson(gw, '/v1/messages/count_tokens', { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
  expect(await expectAnthropicError(res, 404, 'not_found_error')).toContain('no-such-model')
})

test('count_tokens takes every field of the body about to be sent: a top-level cache_control counts like none', async () => {
  const plain = await client.messages.countTokens({ model: 'm', system, messages: conversation })
  const cached = await client.messages.countTokens({ model: 'm', system, messages: conversation, cache_control: { type: 'ephemeral' } })
  expect(cached.input_tokens).toBe(plain.input_tokens)
})

test("count_tokens takes the SDK's other fields: thinking adaptive, output_config, speed, workspace and nulls", async () => {
  const counted = await client.messages.countTokens({
    model: 'm',
    messages: conversation,
    thinking: { type: 'adaptive', display: 'summarized' },
    output_config: { effort: 'medium', format: { type: 'json_schema', schema: { type: 'object' } } },
    speed: null,
    cache_control: null,
    user_profile_id: 'up_1',
    workspace_id: 'ws_1',
  })
  expect(counted.input_tokens).toBeGreaterThan(0)
})

test('count_tokens takes no max_tokens: an unknown field is a 400 naming it', async () => {
  const res = await postJson(gw, '/v1/messages/count_tokens', { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
  expect(await expectAnthropicError(res, 400, 'invalid_request_error')).toContain("'max_tokens'")
})
