// The stream relay's encoder for Anthropic clients: OpenAI SSE text in (as the relay writes it, whole
// events or pieces), Anthropic streaming events out, the same whatever the pieces.
import { describe, expect, test } from 'bun:test'
import { anthropicEncoder } from '../../src/proxy/anthropic-relay'
import { AnthropicStreamEncoder } from '../../src/translate/anthropic-stream'
import {
  blockStop,
  errorEvent,
  eventsOf,
  jsonDelta,
  messageDelta,
  messageStart,
  messageStop,
  openAIChunk as chunk,
  ping,
  textDelta,
  textStart,
  thinkingDelta,
  thinkingStart,
  toolStart,
  usageChunk,
} from './anthropic-events'

type Json = Record<string, unknown>

const MODEL = 'claude-haiku-4-5'
const opening = [messageStart('msg_relay', MODEL), ping]
const data = (payload: Json | string) => `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`
const DONE = 'data: [DONE]\n\n'

/** The Anthropic SSE text the stream relay writes when it hands the encoder the OpenAI text in these pieces, then ends. */
function relay(pieces: string[], stopSequences: string[] = []): string {
  const encoder = anthropicEncoder(new AnthropicStreamEncoder({ model: MODEL, stopSequences }, 'msg_relay'))
  return pieces.map((piece) => encoder.events(piece)).join('') + encoder.end()
}

/** `all` cut into pieces of `size` characters (the last one shorter). */
function piecesOf(all: string, size: number): string[] {
  const pieces: string[] = []
  for (let at = 0; at < all.length; at += size) pieces.push(all.slice(at, at + size))
  return pieces
}

// Thinking, multi-byte text, a keep-alive comment, a tool call in fragments, finish, usage, [DONE].
const conversation =
  data(chunk({ role: 'assistant', content: '' })) +
  data(chunk({ reasoning_content: 'Weather → tool.' })) +
  ': keep-alive\n\n' +
  data(chunk({ content: 'Grüße aus 日本 😀' })) +
  data(chunk({ tool_calls: [{ index: 0, id: 'call_7', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Ōsaka"' } }] })) +
  data(chunk({ tool_calls: [{ index: 0, function: { arguments: ',"unit":"°C"}' } }] })) +
  data(chunk({}, 'tool_calls')) +
  data(usageChunk(31, 17)) +
  DONE

const conversationEvents = [
  ...opening,
  thinkingStart(0),
  thinkingDelta(0, 'Weather → tool.'),
  blockStop(0),
  textStart(1),
  textDelta(1, 'Grüße aus 日本 😀'),
  blockStop(1),
  toolStart(2, 'call_7', 'get_weather'),
  jsonDelta(2, '{"city":"Ōsaka"'),
  jsonDelta(2, ',"unit":"°C"}'),
  blockStop(2),
  messageDelta('tool_use', { input_tokens: 31, output_tokens: 17, cache_read_input_tokens: null }),
  messageStop,
]

describe('boundaries', () => {
  test('the whole stream in one write gives the golden events', () => {
    expect(eventsOf(relay([conversation]))).toEqual(conversationEvents)
  })

  test('one character per write gives the same text', () => {
    const all = conversation
    expect(relay(piecesOf(all, 1))).toBe(relay([all]))
  })

  test('writes of 2, 3, 5, 7, 64 characters give the same text', () => {
    const all = conversation
    const whole = relay([all])
    for (const size of [2, 3, 5, 7, 64]) expect(relay(piecesOf(all, size))).toBe(whole)
  })

  test('a split at every position gives the same text', () => {
    const all = conversation
    const whole = relay([all])
    for (let at = 1; at < all.length; at++) {
      const text = relay([all.slice(0, at), all.slice(at)])
      if (text !== whole) throw new Error(`split at ${at} changed the output:\n${text}`)
    }
  })

  test('a final [DONE] without its blank line still finishes the message', () => {
    const text = relay([data(chunk({ content: 'ok' }, 'stop')) + 'data: [DONE]'])
    expect(eventsOf(text)).toEqual([...opening, textStart(0), textDelta(0, 'ok'), blockStop(0), messageDelta('end_turn', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }), messageStop])
  })

  test('a stop sequence reported by the engine arrives as stop_sequence', () => {
    const text = relay([(data(chunk({ content: 'a' })) + data(chunk({}, 'stop', { stop_reason: '###' })) + DONE)], ['###'])
    expect(eventsOf(text).at(-2)).toEqual(messageDelta('stop_sequence', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }, '###'))
  })
})

describe('failures', () => {
  const started = data(chunk({ role: 'assistant', content: 'Hi' }))
  const startedEvents = [...opening, textStart(0), textDelta(0, 'Hi')]
  const engineError = (code: string) =>
    data({ error: { message: 'Engine e1 failed mid-stream: upstream closed', type: 'server_error', param: null, code } })

  test('an OpenAI error event becomes an Anthropic api_error event, and [DONE] adds nothing', () => {
    const all = started + engineError('engine_error') + DONE
    const text = relay(piecesOf(all, 4))
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('api_error', 'Engine e1 failed mid-stream: upstream closed')])
    expect(text.endsWith('"}}\n\n')).toBe(true)
  })

  test('code deadline_exceeded becomes timeout_error', () => {
    const text = relay([started + engineError('deadline_exceeded') + DONE])
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('timeout_error', 'Engine e1 failed mid-stream: upstream closed')])
  })

  test('an error event before any chunk is the only event', () => {
    const text = relay([engineError('engine_error') + DONE])
    expect(eventsOf(text)).toEqual([errorEvent('api_error', 'Engine e1 failed mid-stream: upstream closed')])
  })

  test('a stream that ends without [DONE] ends with an error event', () => {
    expect(eventsOf(relay([started]))).toEqual([...startedEvents, errorEvent('api_error', 'The engine stream ended without finishing')])
  })

  test('a stream cut inside an event ends with an error event', () => {
    const partial = JSON.stringify(chunk({ content: 'lost' })).slice(0, 60)
    expect(eventsOf(relay([`${started}data: ${partial}`]))).toEqual([
      ...startedEvents,
      errorEvent('api_error', `The engine sent an event that is not JSON: ${partial}`),
    ])
  })

  test('an event that is not JSON is an error event, and nothing follows it', () => {
    const text = relay([started + data('{oops') + data(chunk({ content: 'after' })) + DONE])
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('api_error', 'The engine sent an event that is not JSON: {oops')])
  })

  test('invalid tool arguments at [DONE] are an error event, not message_delta', () => {
    const call = { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Par' } }
    const text = relay([data(chunk({ tool_calls: [call] })) + data(chunk({}, 'tool_calls')) + DONE])
    expect(eventsOf(text)).toEqual([
      ...opening,
      toolStart(0, 'call_1', 'get_weather'),
      jsonDelta(0, '{"city":"Par'),
      errorEvent('api_error', `The engine called tool 'get_weather' with arguments that are not a JSON object: {"city":"Par`),
    ])
  })
})

describe('as the relay writes', () => {
  test('each write gives the events its OpenAI events imply, at once', () => {
    const encoder = anthropicEncoder(new AnthropicStreamEncoder({ model: MODEL, stopSequences: [] }, 'msg_relay'))
    expect(eventsOf(encoder.events(data(chunk({ content: 'first' }))))).toEqual([...opening, textStart(0), textDelta(0, 'first')])
    expect(eventsOf(encoder.events(data(chunk({ content: 'second' }))))).toEqual([textDelta(0, 'second')])
    expect(encoder.events(': keep-alive\n\n')).toBe('')
    expect(eventsOf(encoder.events(DONE))).toEqual([blockStop(0), messageDelta('end_turn', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }), messageStop])
    expect(encoder.end()).toBe('')
  })

  test('a piece of an event is held until its end comes', () => {
    const encoder = anthropicEncoder(new AnthropicStreamEncoder({ model: MODEL, stopSequences: [] }, 'msg_relay'))
    const event = data(chunk({ content: 'whole' }))
    expect(encoder.events(event.slice(0, 20))).toBe('')
    expect(eventsOf(encoder.events(event.slice(20)))).toEqual([...opening, textStart(0), textDelta(0, 'whole')])
  })
})
