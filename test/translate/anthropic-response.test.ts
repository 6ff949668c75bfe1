import { describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { parseToolInput, stopReasonOf, toAnthropicMessage, toolUseId, usageOf } from '../../src/translate/anthropic-response'

type Json = Record<string, unknown>

const context = { model: 'claude-sonnet-4-5', stopSequences: ['\n\nHuman:', 'END'] }
const MESSAGE_ID = /^msg_[0-9a-f]{32}$/
const GENERATED_TOOL_ID = /^toolu_[0-9a-f]{24}$/

/** An OpenAI chat completion with one choice. */
function completion(message: Json, finish_reason: string | null, choiceExtra: Json = {}, usage: Json | undefined = { prompt_tokens: 25, completion_tokens: 7, total_tokens: 32 }): Json {
  return {
    id: 'chatcmpl-abc',
    object: 'chat.completion',
    created: 1700000000,
    model: 'qwen3-8b',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason, ...choiceExtra }],
    ...(usage ? { usage } : {}),
  }
}

/** The ApiError `run` throws, as the fields a client sees. */
function rejection(run: () => unknown) {
  try {
    run()
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    return { status: e.httpStatus, type: e.type, errorCode: e.errorCode, message: e.message }
  }
  throw new Error('expected an ApiError, nothing was thrown')
}

describe('toAnthropicMessage', () => {
  test('a text reply', () => {
    expect(toAnthropicMessage(completion({ content: 'Hello there.' }, 'stop'), context)).toStrictEqual({
      id: expect.stringMatching(MESSAGE_ID),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Hello there.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 25, output_tokens: 7, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    })
  })

  test('each message gets a fresh id', () => {
    const a = toAnthropicMessage(completion({ content: 'x' }, 'stop'), context)
    const b = toAnthropicMessage(completion({ content: 'x' }, 'stop'), context)
    expect(a.id).not.toBe(b.id)
  })

  test('reasoning comes first as a thinking block, then text, then tool calls with parsed input', () => {
    const message = {
      reasoning_content: 'The user wants weather.',
      content: 'Checking.',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":[1,2]}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '  ' } },
        { id: 'call_3', type: 'function', function: { name: 'now', arguments: '' } },
      ],
    }
    const reply = toAnthropicMessage(completion(message, 'tool_calls'), context)
    expect(reply.content).toStrictEqual([
      { type: 'thinking', thinking: 'The user wants weather.', signature: '' },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris', days: [1, 2] } },
      { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
      { type: 'tool_use', id: 'call_3', name: 'now', input: {} },
    ])
    expect([reply.stop_reason, reply.stop_sequence]).toEqual(['tool_use', null])
  })

  test('`reasoning` (newer vLLM) is read like reasoning_content; null content adds no text block', () => {
    const reply = toAnthropicMessage(completion({ reasoning: 'hmm', content: null }, 'stop'), context)
    expect(reply.content).toStrictEqual([{ type: 'thinking', thinking: 'hmm', signature: '' }])
  })

  test('a tool call without an id gets a generated toolu_ id', () => {
    const message = { content: null, tool_calls: [{ type: 'function', function: { name: 'now', arguments: '{}' } }] }
    const [block] = toAnthropicMessage(completion(message, 'tool_calls'), context).content as Json[]
    expect(block).toStrictEqual({ type: 'tool_use', id: expect.stringMatching(GENERATED_TOOL_ID), name: 'now', input: {} })
  })

  test('a tool call with finish_reason stop still stops for tool_use', () => {
    const message = { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'now', arguments: '{}' } }] }
    const reply = toAnthropicMessage(completion(message, 'stop'), context)
    expect([reply.stop_reason, reply.stop_sequence]).toEqual(['tool_use', null])
  })

  test('vLLM stop_reason naming a client stop sequence → stop_sequence', () => {
    const reply = toAnthropicMessage(completion({ content: 'Done' }, 'stop', { stop_reason: 'END' }), context)
    expect([reply.stop_reason, reply.stop_sequence]).toEqual(['stop_sequence', 'END'])
  })

  test("SGLang's matched_stop naming a client stop sequence → stop_sequence", () => {
    const reply = toAnthropicMessage(completion({ content: 'Done' }, 'stop', { matched_stop: 'END' }), context)
    expect([reply.stop_reason, reply.stop_sequence]).toEqual(['stop_sequence', 'END'])
  })

  test('vLLM stop_reason not among the stop sequences (or a token id) → end_turn', () => {
    for (const matched of ['</s>', 151645, null]) {
      const reply = toAnthropicMessage(completion({ content: 'Done' }, 'stop', { stop_reason: matched }), context)
      expect([reply.stop_reason, reply.stop_sequence]).toEqual(['end_turn', null])
    }
  })

  test('length → max_tokens, content_filter → refusal', () => {
    expect(toAnthropicMessage(completion({ content: 'Once upon' }, 'length'), context).stop_reason).toBe('max_tokens')
    expect(toAnthropicMessage(completion({ content: '' }, 'content_filter'), context).stop_reason).toBe('refusal')
  })

  test('no usage and no choices: zeros and an empty message, not a crash', () => {
    const reply = toAnthropicMessage({ id: 'x', object: 'chat.completion', choices: [] }, context)
    expect(reply).toMatchObject({
      content: [],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    })
  })

  // Anthropic's documented behaviour (handling stop reasons, "Incomplete tool use blocks"): a reply cut by
  // max_tokens inside a tool_use block is a normal 200 with stop_reason max_tokens, not an error (a 502 is
  // retried by the Anthropic SDKs with the same max_tokens, failing the same way each time).
  test('tool arguments cut off by finish_reason length are max_tokens, not a 502', () => {
    const message = { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'write_file', arguments: '{"path":"a.txt","text":"Once upon' } }] }
    expect(() => toAnthropicMessage(completion(message, 'length'), context)).not.toThrow()
    expect(toAnthropicMessage(completion(message, 'length'), context)).toMatchObject({
      content: [{ type: 'tool_use', id: 'call_1', name: 'write_file' }],
      stop_reason: 'max_tokens',
      stop_sequence: null,
    })
  })

  test('invalid tool arguments are a 502 naming the tool, not a crash', () => {
    const message = { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Par' } }] }
    expect(rejection(() => toAnthropicMessage(completion(message, 'tool_calls'), context))).toStrictEqual({
      status: 502,
      type: 'api_error',
      errorCode: 'engine_error',
      message: `The engine called tool 'get_weather' with arguments that are not a JSON object: {"city": "Par`,
    })
  })
})

describe('stopReasonOf', () => {
  const stops = ['END']
  test.each([
    ['stop', null, false, { stop_reason: 'end_turn', stop_sequence: null }],
    ['stop', 'END', false, { stop_reason: 'stop_sequence', stop_sequence: 'END' }],
    ['stop', 'OTHER', false, { stop_reason: 'end_turn', stop_sequence: null }],
    ['stop', 'END', true, { stop_reason: 'tool_use', stop_sequence: null }],
    ['length', 'END', false, { stop_reason: 'max_tokens', stop_sequence: null }],
    ['length', null, true, { stop_reason: 'max_tokens', stop_sequence: null }],
    ['tool_calls', null, false, { stop_reason: 'tool_use', stop_sequence: null }],
    ['function_call', null, false, { stop_reason: 'tool_use', stop_sequence: null }],
    ['content_filter', null, false, { stop_reason: 'refusal', stop_sequence: null }],
    [null, null, false, { stop_reason: 'end_turn', stop_sequence: null }],
  ] as [unknown, unknown, boolean, Json][])('finish %p, matched %p, tool calls %p', (finish, matched, hasTools, expected) => {
    expect<Json>(stopReasonOf(finish, matched, hasTools, stops)).toStrictEqual(expected)
  })
})

describe('usageOf', () => {
  test('prompt and completion tokens map to input and output tokens', () => {
    expect(usageOf({ prompt_tokens: 100, completion_tokens: 20 })).toStrictEqual({
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
    })
  })

  test('null details and missing usage give zeros and null cache fields', () => {
    expect(usageOf({ prompt_tokens: 3, completion_tokens: 1, prompt_tokens_details: null })).toMatchObject({ input_tokens: 3, cache_read_input_tokens: null })
    expect(usageOf(undefined)).toStrictEqual({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: null, cache_read_input_tokens: null })
  })

  // Anthropic documents total input = input_tokens + cache_creation_input_tokens + cache_read_input_tokens
  // (input_tokens counts only what was not read from the cache); OpenAI's prompt_tokens includes the cached ones.
  test('cached prompt tokens are cache_read_input_tokens and not also counted in input_tokens', () => {
    expect(usageOf({ prompt_tokens: 1000, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 800 } })).toStrictEqual({
      input_tokens: 200,
      output_tokens: 20,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: 800,
    })
  })
})

describe('parseToolInput', () => {
  test('an object is returned as parsed; blank or missing text is {}', () => {
    expect(parseToolInput('{"a":{"b":[1,"ü"]}}', 't')).toStrictEqual({ a: { b: [1, 'ü'] } })
    expect(parseToolInput(' \n\t ', 't')).toStrictEqual({})
    expect(parseToolInput(undefined, 't')).toStrictEqual({})
  })

  test.each(['[1,2]', '"text"', '42', 'null', 'true', '{"a":1', "{'a':1}"])('%s is a 502, not an object', (raw) => {
    expect(rejection(() => parseToolInput(raw, 'lookup'))).toStrictEqual({
      status: 502,
      type: 'api_error',
      errorCode: 'engine_error',
      message: `The engine called tool 'lookup' with arguments that are not a JSON object: ${raw}`,
    })
  })

  test('a long invalid argument text is cut to 200 characters in the message', () => {
    const raw = `[${'1,'.repeat(150)}1]`
    expect(rejection(() => parseToolInput(raw, 'lookup')).message).toBe(
      `The engine called tool 'lookup' with arguments that are not a JSON object: ${raw.slice(0, 200)}…`,
    )
  })
})

describe('toolUseId', () => {
  test('the engine id is kept; missing or empty ids are generated, distinct', () => {
    expect(toolUseId('call_9')).toBe('call_9')
    const generated = [toolUseId(undefined), toolUseId(''), toolUseId(7)]
    for (const id of generated) expect(id).toMatch(GENERATED_TOOL_ID)
    expect(new Set(generated).size).toBe(3)
  })
})
