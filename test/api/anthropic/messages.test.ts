// POST /v1/messages without streaming, through the official Anthropic SDK: the Message the client gets
// (text, stop_reason, id, model, usage from the engine), the exact OpenAI body the engine receives for
// it (system first, sampling fields, stop, user, structured output; nothing Anthropic-only, null
// fields as absent), multi-turn history, the request-id header and the Anthropic headers clients send.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, anthropicClient, completion, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const hello = { model: 'm', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello gateway' }] }

test("a plain answer carries the engine's text and stop_reason end_turn", async () => {
  const msg = await client.messages.create(hello)
  expect(msg.type).toBe('message')
  expect(msg.role).toBe('assistant')
  expect(msg.content).toHaveLength(1)
  expect(msg.content[0]!.type).toBe('text')
  expect((msg.content[0] as Anthropic.TextBlock).text).toContain('You said: "Hello gateway"')
  expect(msg.stop_reason).toBe('end_turn')
  expect(msg.stop_sequence).toBeNull()
})

test('the message id is msg_ and unique; the model is the one asked for, not the name the engine reports', async () => {
  answerChats(engine, () => jsonResponse(completion({ content: 'Hi.' })))
  const first = await client.messages.create(hello)
  const second = await client.messages.create(hello)
  expect(first.id).toMatch(/^msg_[0-9a-f]{32}$/)
  expect(second.id).not.toBe(first.id)
  expect(first.model).toBe('m')
})

test("usage is the engine's prompt and completion tokens", async () => {
  answerChats(engine, () => jsonResponse(completion({ content: 'Hi.' }, 'stop', { prompt_tokens: 21, completion_tokens: 4 })))
  const msg = await client.messages.create(hello)
  expect(msg.usage).toMatchObject({ input_tokens: 21, output_tokens: 4, cache_creation_input_tokens: null, cache_read_input_tokens: null })
})

// Anthropic: "Total input tokens in a request is the summation of input_tokens,
// cache_creation_input_tokens, and cache_read_input_tokens" — cached tokens must not be counted twice.
test('prompt tokens the engine served from its prefix cache are cache reads, not also input tokens', async () => {
  const usage = { prompt_tokens: 42, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 10 } }
  answerChats(engine, () => jsonResponse(completion({ content: 'Hi.' }, 'stop', usage)))
  const msg = await client.messages.create(hello)
  expect(msg.usage.cache_read_input_tokens).toBe(10)
  expect(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0)).toBe(42)
})

test('the engine receives exactly the translated OpenAI body: system first, sampling fields, stop, user', async () => {
  // This SDK's types no longer list temperature, top_p and top_k (deprecated there); the API still takes them.
  await client.messages.create({
    model: 'm',
    max_tokens: 200,
    system: 'You are terse.',
    messages: [{ role: 'user', content: 'Hello gateway' }],
    temperature: 0.4,
    top_p: 0.9,
    top_k: 20,
    stop_sequences: ['END', '###'],
    metadata: { user_id: 'user-42' },
  } as Anthropic.MessageCreateParamsNonStreaming)
  expect(onlyChatRequest(engine).body).toEqual({
    model: 'm',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello gateway' },
    ],
    max_tokens: 200,
    stop: ['END', '###'],
    temperature: 0.4,
    top_p: 0.9,
    top_k: 20,
    user: 'user-42',
  })
})

test('Anthropic-only fields (cache_control, service_tier, metadata, stream: false) never reach the engine', async () => {
  await client.messages.create({
    model: 'm',
    max_tokens: 32,
    stream: false,
    service_tier: 'auto',
    system: [{ type: 'text', text: 'Cached prompt.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }],
    metadata: { user_id: null },
  })
  const req = onlyChatRequest(engine)
  expect(req.body).toEqual({
    model: 'm',
    messages: [
      { role: 'system', content: 'Cached prompt.' },
      { role: 'user', content: 'Hi' },
    ],
    max_tokens: 32,
  })
  expect(req.text).not.toContain('cache_control')
})

test('fields the SDK types as nullable, sent as null (inference_geo, cache_control, speed, container, diagnostics), are absent', async () => {
  const msg = await client.messages.create({
    ...hello,
    inference_geo: null,
    cache_control: null,
    speed: null,
    container: null,
    diagnostics: null,
    output_config: { effort: null, format: null },
    metadata: { user_id: null },
  })
  expect(msg.stop_reason).toBe('end_turn')
  expect(onlyChatRequest(engine).body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'Hello gateway' }], max_tokens: 64 })
})

test('a top-level cache_control, speed, user_profile_id and workspace_id are accepted and never reach the engine', async () => {
  await client.messages.create({ ...hello, cache_control: { type: 'ephemeral', ttl: '5m' }, speed: 'fast', user_profile_id: 'up_1', workspace_id: 'ws_1' })
  expect(onlyChatRequest(engine).body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'Hello gateway' }], max_tokens: 64 })
})

test('output_config.effort is accepted and, having no engine counterpart, sends the engine nothing', async () => {
  const msg = await client.messages.create({ ...hello, output_config: { effort: 'low' } })
  expect(msg.stop_reason).toBe('end_turn')
  const req = onlyChatRequest(engine)
  expect(req.body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'Hello gateway' }], max_tokens: 64 })
  expect(req.text).not.toContain('effort')
})

test('output_config.format json_schema reaches the engine as response_format json_schema with its schema', async () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }
  answerChats(engine, () => jsonResponse(completion({ content: '{"city":"Paris"}' })))
  const msg = await client.messages.create({ ...hello, output_config: { effort: 'high', format: { type: 'json_schema', schema } } })
  expect(JSON.parse((msg.content[0] as Anthropic.TextBlock).text)).toEqual({ city: 'Paris' })
  const body = onlyChatRequest(engine).body
  expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema } })
  expect(body.output_config).toBeUndefined()
})

test('a system prompt of text blocks becomes one system message, blocks joined by newlines', async () => {
  await client.messages.create({
    ...hello,
    system: [
      { type: 'text', text: 'You are a pirate.' },
      { type: 'text', text: 'Answer in one line.' },
    ],
  })
  expect(onlyChatRequest(engine).body.messages).toEqual([
    { role: 'system', content: 'You are a pirate.\nAnswer in one line.' },
    { role: 'user', content: 'Hello gateway' },
  ])
})

test('a system block that is not text is a 400 naming it, and reaches no engine', async () => {
  const res = await postJson(gw, '/v1/messages', { ...hello, system: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] })
  expect(res.status).toBe(400)
  expect(((await res.json()) as { error: { message: string } }).error.message).toContain('system[0]')
  expect(engine.inference()).toEqual([])
})

test('multi-turn history reaches the engine in order, assistant text blocks joined into one message', async () => {
  const msg = await client.messages.create({
    model: 'm',
    max_tokens: 64,
    system: 'Remember names.',
    messages: [
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: [{ type: 'text', text: 'Nice to meet you, ' }, { type: 'text', text: 'Ada.' }] },
      { role: 'user', content: [{ type: 'text', text: 'What is my name?' }] },
    ],
  })
  expect(onlyChatRequest(engine).body.messages).toEqual([
    { role: 'system', content: 'Remember names.' },
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: 'Nice to meet you, Ada.' },
    { role: 'user', content: 'What is my name?' },
  ])
  // The mock answers the last user message.
  expect((msg.content[0] as Anthropic.TextBlock).text).toContain('You said: "What is my name?"')
})

test('a conversation ending with an assistant turn is a prefill: the engine continues that message', async () => {
  await client.messages.create({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'Pick a letter.' }, { role: 'assistant', content: 'The best answer is (' }] })
  const body = onlyChatRequest(engine).body
  expect(body.messages.at(-1)).toEqual({ role: 'assistant', content: 'The best answer is (' })
  // vLLM and SGLang render the last message open-ended instead of starting a new assistant turn.
  expect(body).toMatchObject({ continue_final_message: true, add_generation_prompt: false })
})

test('a conversation ending with a user turn asks for no prefill', async () => {
  await client.messages.create(hello)
  const body = onlyChatRequest(engine).body
  expect('continue_final_message' in body || 'add_generation_prompt' in body).toBe(false)
})

test('the answer carries a request-id header, which the SDK exposes as _request_id', async () => {
  const { data, request_id, response } = await client.messages.create(hello).withResponse()
  expect(request_id).toBeTruthy()
  expect((data as { _request_id?: string | null })._request_id).toBe(request_id)
  expect(response.headers.get('x-request-id')).toBe(request_id!)
})

test('x-api-key, anthropic-version and anthropic-beta are accepted and not forwarded to the engine', async () => {
  const res = await postJson(gw, '/v1/messages', hello, {
    'x-api-key': 'sk-ant-secret',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'prompt-caching-2024-07-31,token-efficient-tools-2025-02-19',
  })
  expect(res.status).toBe(200)
  expect(((await res.json()) as { type: string }).type).toBe('message')
  const headers = onlyChatRequest(engine).headers
  expect(Object.keys(headers).filter((h) => h === 'x-api-key' || h.startsWith('anthropic-'))).toEqual([])
  expect(JSON.stringify(headers)).not.toContain('sk-ant-secret')
})

test('the SDK with a beta header set gets its answer', async () => {
  const beta = anthropicClient(gw, { defaultHeaders: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } })
  const msg = await beta.messages.create(hello)
  expect(msg.stop_reason).toBe('end_turn')
})
