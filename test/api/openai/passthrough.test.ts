// Fields the gateway does not read reach the engine untouched (STYLE habit 4b), the gateway's own
// extension fields do not, and the request id travels client → gateway → engine → client.
import { expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { type FakeEngine } from '../../helpers/fake-engine'
import { postJson, sharedEngineGateway, type TestGateway } from '../../helpers/gateway'
import { collect } from '../../helpers/sse-client'

let engine: FakeEngine
let gw: TestGateway
let client: OpenAI

sharedEngineGateway((shared) => {
  ;({ engine, gw } = shared)
  client = gw.openai()
}, { models: ['fake-model'] })

type Body = Record<string, unknown>

/** The only inference request the engine received during the current test. */
function engineRequest() {
  const received = engine.inference()
  expect(received).toHaveLength(1)
  return received[0]!
}

/** The fields of `sent` whose JSON differs in `received` (the list a failing test prints). */
function mismatches(sent: Body, received: Body, skip: readonly string[] = []): string[] {
  return Object.keys(sent)
    .filter((field) => !skip.includes(field))
    .filter((field) => JSON.stringify(received[field]) !== JSON.stringify(sent[field]))
    .map((field) => `${field}: sent ${JSON.stringify(sent[field])}, engine got ${JSON.stringify(received[field])}`)
}

const UNICODE = 'héllo 世界 🚀 مرحبا e\u0301 "quoted" \\ back\\slash \n\t \u2028 \u0007 ∑'

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city — ☀️',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Zürich', '東京'] }, unit: { type: ['string', 'null'], default: null } },
      required: ['city'],
      additionalProperties: false,
    },
    strict: true,
  },
}

const chatBody = (): Body => ({
  model: 'fake-model',
  messages: [
    { role: 'system', content: `You are terse. ${UNICODE}` },
    { role: 'user', name: 'alice_01', content: [{ type: 'text', text: 'What is the weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } }] },
    {
      role: 'assistant',
      content: null,
      reasoning_content: 'Call the tool.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: '{"temp": 21.5, "sky": null}' },
    { role: 'user', content: UNICODE, extra_message_field: { nested: [null, { deeper: null }] } },
  ],
  tools: [weatherTool],
  tool_choice: { type: 'function', function: { name: 'get_weather' } },
  parallel_tool_calls: false,
  response_format: {
    type: 'json_schema',
    json_schema: { name: 'weather', strict: true, schema: { type: 'object', properties: { temp: { type: 'number' } }, required: ['temp'] } },
  },
  logprobs: true,
  top_logprobs: 5,
  seed: 1234567,
  top_k: 40,
  min_p: 0.05,
  repetition_penalty: 1.15,
  chat_template_kwargs: { enable_thinking: false },
  guided_json: { type: 'object', properties: { answer: { type: 'string' } } },
  logit_bias: { '50256': -100 },
  metadata: { a: null, b: [null, { c: null }], d: { e: { f: null } }, label: UNICODE },
  stop: ['\n\n', '###'],
  temperature: 0.7,
  top_p: 0.95,
  max_tokens: 64,
  user: 'user-ü',
})

test('every chat field the gateway does not read reaches the engine with identical JSON', async () => {
  const sent = chatBody()
  await client.chat.completions.create(sent as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
  const received = engineRequest().body as Body
  expect(mismatches(sent, received)).toEqual([])
})

test('each message keeps its extra fields (name, tool_call_id, tool_calls, reasoning_content) on the way to the engine', async () => {
  const sent = chatBody()
  await client.chat.completions.create(sent as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
  const received = engineRequest().body as Body
  const sentMessages = sent.messages as Body[]
  const receivedMessages = received.messages as Body[]
  expect(receivedMessages).toHaveLength(sentMessages.length)
  const wrong = sentMessages.flatMap((message, i) => mismatches(message, receivedMessages[i] ?? {}).map((m) => `messages[${i}].${m}`))
  expect(wrong).toEqual([])
})

test('a non-stream chat body reaches the engine byte for byte', async () => {
  const text = JSON.stringify(chatBody())
  const res = await postJson(gw, '/v1/chat/completions', text)
  expect(res.status).toBe(200)
  expect(engineRequest().text).toBe(text)
})

test("the client's own JSON text reaches the engine: its layout, escapes and integers past 2^53 (a seed) kept", async () => {
  // JSON.parse then JSON.stringify would give 12345678901234567000 and \u00e9 as é.
  const text = '{\n  "model": "fake-model",\n  "seed": 12345678901234567890,\n  "messages": [ {"role": "user", "content": "caf\\u00e9"} ],\n  "top_p": 1.0\n}\n'
  const res = await postJson(gw, '/v1/chat/completions', text)
  expect(res.status).toBe(200)
  expect(engineRequest().text).toBe(text.trim())
})

test('a stream sent as the client wrote it gets only the usage switch appended, whatever its trailing whitespace', async () => {
  const text = '{"model":"fake-model","seed":12345678901234567890,"stream":true,"messages":[{"role":"user","content":"hi"}]}  \r\n'
  const res = await postJson(gw, '/v1/chat/completions', text)
  expect(res.status).toBe(200)
  await res.text()
  expect(engineRequest().text).toBe('{"model":"fake-model","seed":12345678901234567890,"stream":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}')
})

test('a stream keeps the client stream_options fields and adds only include_usage for the engine', async () => {
  const sent = { ...chatBody(), stream: true, stream_options: { include_usage: false, continuous_usage_stats: true } }
  await collect(await client.chat.completions.create(sent as unknown as OpenAI.ChatCompletionCreateParamsStreaming))
  const received = engineRequest().body as Body
  expect(mismatches(sent, received, ['stream_options'])).toEqual([])
  expect(received.stream_options).toEqual({ include_usage: true, continuous_usage_stats: true })
})

test('session_id and trace_id are accepted but not forwarded to the engine', async () => {
  const sent = { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], session_id: 'sess-1', trace_id: 'trace-1', top_k: 5 }
  const res = await client.chat.completions.create(sent as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
  expect(res.choices[0]!.message.content).toContain('You said: "hi"')
  const received = engineRequest().body as Body
  expect('session_id' in received).toBe(false)
  expect('trace_id' in received).toBe(false)
  expect(received.top_k).toBe(5)
})

test('user, session_id and trace_id sent as null (Python None) are accepted: user goes on as sent, the others do not', async () => {
  const sent = { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], user: null, session_id: null, trace_id: null }
  const res = await client.chat.completions.create(sent as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
  expect(res.choices[0]!.message.content).toContain('You said: "hi"')
  const received = engineRequest().body as Body
  expect(received.user).toBeNull()
  expect('session_id' in received).toBe(false)
  expect('trace_id' in received).toBe(false)
})

test("the client's x-request-id is echoed back and forwarded to the engine", async () => {
  const { response, request_id } = await client.chat.completions
    .create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'client-req-42' } })
    .withResponse()
  expect(response.headers.get('x-request-id')).toBe('client-req-42')
  expect(request_id).toBe('client-req-42')
  expect(engineRequest().headers['x-request-id']).toBe('client-req-42')
})

test('without a client x-request-id the gateway returns a generated one and gives the engine the same', async () => {
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })
  expect(res.status).toBe(200)
  const id = res.headers.get('x-request-id')
  expect(id).toMatch(/^[0-9a-f-]{36}$/)
  expect(engineRequest().headers['x-request-id']).toBe(id!)
})

test('a stream answer carries the client x-request-id too', async () => {
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], stream: true }, { 'x-request-id': 'stream-req-7' })
  await res.text()
  expect(res.headers.get('x-request-id')).toBe('stream-req-7')
  expect(engineRequest().headers['x-request-id']).toBe('stream-req-7')
})

test('a malformed client x-request-id is replaced by a generated one', async () => {
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'has spaces; and=symbols' })
  expect(res.status).toBe(200)
  const id = res.headers.get('x-request-id')
  expect(id).toMatch(/^[0-9a-f-]{36}$/)
  expect(engineRequest().headers['x-request-id']).toBe(id!)
})

test("the client's API key is not forwarded to the engine", async () => {
  await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })
  expect(engineRequest().headers.authorization).toBeUndefined()
})

test('every completions field the gateway does not read reaches the engine with identical JSON', async () => {
  const sent: Body = {
    model: 'fake-model',
    prompt: [`Once upon a time ${UNICODE}`, 'second prompt'],
    suffix: ' The end.',
    echo: false,
    best_of: 1,
    logprobs: 3,
    seed: 42,
    top_k: 20,
    min_p: 0.1,
    repetition_penalty: 1.05,
    guided_regex: '[a-z]+',
    guided_json: { type: 'object', properties: { x: { type: ['integer', 'null'] } } },
    logit_bias: { '13': 5 },
    extra: { a: null, b: [null, { c: null }] },
    max_tokens: 8,
  }
  await client.completions.create(sent as unknown as OpenAI.CompletionCreateParamsNonStreaming)
  expect(engineRequest().path).toBe('/v1/completions')
  expect(mismatches(sent, engineRequest().body as Body)).toEqual([])
})

test('a completions body reaches the engine byte for byte', async () => {
  const text = JSON.stringify({ model: 'fake-model', prompt: UNICODE, top_k: 3, nested: { n: null }, numbers: [1, 2.5, -3e-7, 12345678901234] })
  const res = await postJson(gw, '/v1/completions', text)
  expect(res.status).toBe(200)
  expect(engineRequest().text).toBe(text)
})

test('every embeddings field the gateway does not read reaches the engine with identical JSON', async () => {
  const sent: Body = {
    model: 'fake-model',
    input: [UNICODE, 'second'],
    encoding_format: 'float',
    dimensions: 8,
    user: 'user-ü',
    truncate_prompt_tokens: 128,
    additional_data: { a: null, b: [null, { c: null }] },
  }
  await client.embeddings.create(sent as unknown as OpenAI.EmbeddingCreateParams)
  expect(engineRequest().path).toBe('/v1/embeddings')
  expect(mismatches(sent, engineRequest().body as Body)).toEqual([])
})

test('session_id and trace_id are not forwarded on embeddings', async () => {
  const sent = { model: 'fake-model', input: 'hi', session_id: 's', trace_id: 't' }
  await client.embeddings.create(sent as unknown as OpenAI.EmbeddingCreateParams)
  const received = engineRequest().body as Body
  expect('session_id' in received).toBe(false)
  expect('trace_id' in received).toBe(false)
})
