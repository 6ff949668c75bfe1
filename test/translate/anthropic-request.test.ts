import { describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { toOpenAIChat, toOpenAIMessages, type AnthropicRequest } from '../../src/translate/anthropic-request'

type Json = Record<string, unknown>

/** The ApiError `run` throws, as the fields a client sees. */
function rejection(run: () => unknown) {
  try {
    run()
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    return { status: e.httpStatus, type: e.type, param: e.param, message: e.message }
  }
  throw new Error('expected an ApiError, nothing was thrown')
}

const user = (content: string | Json[]) => ({ role: 'user' as const, content })
const assistant = (content: string | Json[]) => ({ role: 'assistant' as const, content })
const chat = (extra: Partial<AnthropicRequest>): Json =>
  toOpenAIChat({ model: 'qwen3-8b', max_tokens: 64, messages: [user('Hi')], ...extra })
const png = { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' }

describe('system prompt', () => {
  test('a string becomes the first, system message', () => {
    expect(toOpenAIMessages({ system: 'Be brief.', messages: [user('Hi')] })).toStrictEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ])
  })

  test('text blocks are joined by newlines (cache_control ignored)', () => {
    const system = [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Answer in French.' }]
    expect(toOpenAIMessages({ system, messages: [user('Hi')] })).toStrictEqual([
      { role: 'system', content: 'You are terse.\nAnswer in French.' },
      { role: 'user', content: 'Hi' },
    ])
  })

  test('a non-text block is a 400 naming system[j]', () => {
    const system = [{ type: 'text', text: 'ok' }, { type: 'image', source: png }]
    expect(rejection(() => toOpenAIMessages({ system, messages: [user('Hi')] }))).toStrictEqual({
      status: 400,
      type: 'invalid_request_error',
      param: 'system[1].type',
      message: 'system[1]: only text blocks may form the system prompt',
    })
  })
})

describe('user content', () => {
  test('text-only blocks collapse to one string', () => {
    expect(toOpenAIMessages({ messages: [user([{ type: 'text', text: 'line one' }, { type: 'text', text: 'line two' }])] })).toStrictEqual([
      { role: 'user', content: 'line one\nline two' },
    ])
  })

  test('images: base64 becomes a data URL, url stays a URL', () => {
    const content = [
      { type: 'text', text: 'Compare these.' },
      { type: 'image', source: png },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]
    expect(toOpenAIMessages({ messages: [user(content)] })).toStrictEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare these.' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ])
  })

  test('an image with an unknown source is a 400 naming the source', () => {
    const content = [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }]
    expect(rejection(() => toOpenAIMessages({ messages: [user(content)] }))).toMatchObject({ status: 400, param: 'messages[0].content[0].source' })
  })

  test('a tool round trip: tool_use → tool_calls, tool_result → tool messages before the remaining user text', () => {
    const messages = [
      user('Weather in Paris and Rome?'),
      assistant([
        { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'c2ln' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_02', name: 'get_weather', input: { city: 'Rome', units: 'celsius' } },
      ]),
      user([
        { type: 'text', text: 'Here you go.' },
        { type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C' },
        { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: '22°C' }, { type: 'text', text: 'sunny' }] },
      ]),
    ]
    expect(toOpenAIMessages({ messages })).toStrictEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          { id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_02', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome","units":"celsius"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_02', content: '22°C\nsunny' },
      { role: 'user', content: 'Here you go.' },
    ])
  })

  test('tool_result: missing content is empty, is_error prefixes "Error: ", images stay parts', () => {
    const shot = { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/' } }
    const content = [
      { type: 'tool_result', tool_use_id: 'toolu_a' },
      { type: 'tool_result', tool_use_id: 'toolu_b', content: 'disk full', is_error: true },
      { type: 'tool_result', tool_use_id: 'toolu_c', content: [{ type: 'text', text: 'screen:' }, shot] },
      { type: 'tool_result', tool_use_id: 'toolu_d', content: [{ type: 'text', text: 'crashed:' }, shot], is_error: true },
    ]
    const jpeg = { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/' } }
    expect(toOpenAIMessages({ messages: [user(content)] })).toStrictEqual([
      { role: 'tool', tool_call_id: 'toolu_a', content: '' },
      { role: 'tool', tool_call_id: 'toolu_b', content: 'Error: disk full' },
      { role: 'tool', tool_call_id: 'toolu_c', content: [{ type: 'text', text: 'screen:' }, jpeg] },
      { role: 'tool', tool_call_id: 'toolu_d', content: [{ type: 'text', text: 'Error:' }, { type: 'text', text: 'crashed:' }, jpeg] },
    ])
  })
})

describe('assistant content', () => {
  test('only tool_use: content is null; input missing is {}', () => {
    expect(toOpenAIMessages({ messages: [assistant([{ type: 'tool_use', id: 'toolu_x', name: 'now' }])] })).toStrictEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_x', type: 'function', function: { name: 'now', arguments: '{}' } }] },
    ])
  })

  test('thinking is dropped, text blocks concatenate, no tool_calls key without calls', () => {
    const content = [
      { type: 'thinking', thinking: 'hmm', signature: '' },
      { type: 'text', text: 'The answer ' },
      { type: 'text', text: 'is 4.' },
    ]
    expect(toOpenAIMessages({ messages: [assistant(content)] })).toStrictEqual([{ role: 'assistant', content: 'The answer is 4.' }])
  })
})

describe('unsupported blocks are 400s naming messages[i].content[j].type', () => {
  test('document in user content', () => {
    const doc = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }
    expect(rejection(() => toOpenAIMessages({ messages: [user('a'), assistant('b'), user([{ type: 'text', text: 'read' }, doc])] }))).toStrictEqual({
      status: 400,
      type: 'invalid_request_error',
      param: 'messages[2].content[1].type',
      message: "messages[2].content[1]: content blocks of type 'document' are not supported in user content by this gateway's engines",
    })
  })

  test('server_tool_use in assistant content', () => {
    const block = { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }
    expect(rejection(() => toOpenAIMessages({ messages: [user('a'), assistant([block])] }))).toMatchObject({ status: 400, param: 'messages[1].content[0].type' })
  })

  test('document inside a tool_result', () => {
    const content = [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'document', source: {} }] }]
    expect(rejection(() => toOpenAIMessages({ messages: [user(content)] }))).toMatchObject({ status: 400, param: 'messages[0].content[0].content[0].type' })
  })
})

describe('tools and tool_choice', () => {
  test('input_schema becomes parameters, description kept when given', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }
    const tools = [
      { name: 'get_weather', description: 'Current weather for a city', input_schema: schema },
      { type: 'custom', name: 'noop', input_schema: { type: 'object', properties: {} } },
    ]
    expect(chat({ tools }).tools).toStrictEqual([
      { type: 'function', function: { name: 'get_weather', parameters: schema, description: 'Current weather for a city' } },
      { type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } },
    ])
  })

  test('server tools are rejected naming tools[i].type', () => {
    const tools = [
      { name: 'ok', input_schema: { type: 'object' } },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
    ]
    expect(rejection(() => chat({ tools }))).toStrictEqual({
      status: 400,
      type: 'invalid_request_error',
      param: 'tools[1].type',
      message: "tools[1]: server tools of type 'web_search_20250305' are not available on self-hosted engines; define a custom tool",
    })
  })

  test.each([
    [{ type: 'auto' }, { tool_choice: 'auto' }],
    [{ type: 'any' }, { tool_choice: 'required' }],
    [{ type: 'none' }, { tool_choice: 'none' }],
    [{ type: 'tool', name: 'get_weather' }, { tool_choice: { type: 'function', function: { name: 'get_weather' } } }],
    [{ type: 'auto', disable_parallel_tool_use: true }, { tool_choice: 'auto', parallel_tool_calls: false }],
    [{ type: 'tool', name: 'get_weather', disable_parallel_tool_use: true }, { tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false }],
  ] as [Json, Json][])('tool_choice %j → %j', (choice, expected) => {
    const body = chat({ tool_choice: choice })
    expect<Json>({ tool_choice: body.tool_choice, parallel_tool_calls: body.parallel_tool_calls }).toEqual(expected)
    if (!('parallel_tool_calls' in expected)) expect('parallel_tool_calls' in body).toBe(false)
  })

  test('an unknown tool_choice type is a 400', () => {
    expect(rejection(() => chat({ tool_choice: { type: 'sometimes' } }))).toMatchObject({ status: 400, param: 'tool_choice.type' })
  })
})

describe('sampling and request options', () => {
  test('every option maps to its OpenAI field', () => {
    const request: AnthropicRequest = {
      model: 'qwen3-8b',
      max_tokens: 256,
      system: 'S',
      messages: [user('Hi')],
      stop_sequences: ['\n\nHuman:', 'END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      metadata: { user_id: 'user-42', session_id: 'sess-7' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      stream: true,
    }
    expect(toOpenAIChat(request)).toStrictEqual({
      model: 'qwen3-8b',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Hi' },
      ],
      max_tokens: 256,
      stop: ['\n\nHuman:', 'END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      user: 'user-42',
      session_id: 'sess-7',
      chat_template_kwargs: { enable_thinking: true, thinking: true },
      stream: true,
      stream_options: { include_usage: true },
    })
  })

  test('a minimal request carries only model, messages and max_tokens', () => {
    expect(chat({ stream: false, stop_sequences: [], metadata: {} })).toStrictEqual({ model: 'qwen3-8b', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64 })
  })

  test('temperature 0 is kept', () => {
    expect(chat({ temperature: 0 }).temperature).toBe(0)
  })

  test('thinking disabled switches the chat template off', () => {
    expect(chat({ thinking: { type: 'disabled' } }).chat_template_kwargs).toStrictEqual({ enable_thinking: false, thinking: false })
  })

  test('an unknown thinking type is a 400', () => {
    expect(rejection(() => chat({ thinking: { type: 'sometimes' } }))).toMatchObject({ status: 400, param: 'thinking.type' })
  })
})
