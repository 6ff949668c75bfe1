import { describe, expect, test } from 'bun:test'
import { toAnthropicStream } from '../../src/proxy/anthropic-relay'
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
const bytes = (text: string) => new TextEncoder().encode(text)
const data = (payload: Json | string) => `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`
const DONE = 'data: [DONE]\n\n'

function streamOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece)
      controller.close()
    },
  })
}

/** The Anthropic SSE text the relay writes for an OpenAI SSE byte stream delivered in these pieces. */
function relay(pieces: Uint8Array[], stopSequences: string[] = []): Promise<string> {
  const encoder = new AnthropicStreamEncoder({ model: MODEL, stopSequences }, 'msg_relay')
  return new Response(toAnthropicStream(streamOf(pieces), encoder)).text()
}

/** `all` cut into pieces of `size` bytes (the last one shorter). */
function piecesOf(all: Uint8Array, size: number): Uint8Array[] {
  const pieces: Uint8Array[] = []
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

describe('byte boundaries', () => {
  test('the whole stream in one read gives the golden events', async () => {
    expect(eventsOf(await relay([bytes(conversation)]))).toEqual(conversationEvents)
  })

  test('one byte per read gives the same text', async () => {
    const all = bytes(conversation)
    expect(await relay(piecesOf(all, 1))).toBe(await relay([all]))
  })

  test('reads of 2, 3, 5, 7, 64 bytes give the same text', async () => {
    const all = bytes(conversation)
    const whole = await relay([all])
    for (const size of [2, 3, 5, 7, 64]) expect(await relay(piecesOf(all, size))).toBe(whole)
  })

  test('a split at every byte position gives the same text', async () => {
    const all = bytes(conversation)
    const whole = await relay([all])
    for (let at = 1; at < all.length; at++) {
      const text = await relay([all.slice(0, at), all.slice(at)])
      if (text !== whole) throw new Error(`split at byte ${at} changed the output:\n${text}`)
    }
  })

  test('CRLF line endings, split between CR and LF, give the same events', async () => {
    const all = bytes(conversation.replaceAll('\n', '\r\n'))
    expect(eventsOf(await relay(piecesOf(all, 3)))).toEqual(conversationEvents)
  })

  test('a final [DONE] without its blank line still finishes the message', async () => {
    const text = await relay([bytes(data(chunk({ content: 'ok' }, 'stop')) + 'data: [DONE]')])
    expect(eventsOf(text)).toEqual([...opening, textStart(0), textDelta(0, 'ok'), blockStop(0), messageDelta('end_turn', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }), messageStop])
  })

  test('a stop sequence reported by the engine arrives as stop_sequence', async () => {
    const text = await relay([bytes(data(chunk({ content: 'a' })) + data(chunk({}, 'stop', { stop_reason: '###' })) + DONE)], ['###'])
    expect(eventsOf(text).at(-2)).toEqual(messageDelta('stop_sequence', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }, '###'))
  })
})

describe('failures', () => {
  const started = data(chunk({ role: 'assistant', content: 'Hi' }))
  const startedEvents = [...opening, textStart(0), textDelta(0, 'Hi')]
  const engineError = (code: string) =>
    data({ error: { message: 'Engine e1 failed mid-stream: upstream closed', type: 'server_error', param: null, code } })

  test('an OpenAI error event becomes an Anthropic api_error event, and [DONE] adds nothing', async () => {
    const all = bytes(started + engineError('engine_error') + DONE)
    const text = await relay(piecesOf(all, 4))
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('api_error', 'Engine e1 failed mid-stream: upstream closed')])
    expect(text.endsWith('"}}\n\n')).toBe(true)
  })

  test('code deadline_exceeded becomes timeout_error', async () => {
    const text = await relay([bytes(started + engineError('deadline_exceeded') + DONE)])
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('timeout_error', 'Engine e1 failed mid-stream: upstream closed')])
  })

  test('an error event before any chunk is the only event', async () => {
    const text = await relay([bytes(engineError('engine_error') + DONE)])
    expect(eventsOf(text)).toEqual([errorEvent('api_error', 'Engine e1 failed mid-stream: upstream closed')])
  })

  test('a stream that ends without [DONE] ends with an error event', async () => {
    expect(eventsOf(await relay([bytes(started)]))).toEqual([...startedEvents, errorEvent('api_error', 'The engine stream ended without finishing')])
  })

  test('a stream cut inside an event ends with an error event', async () => {
    const partial = JSON.stringify(chunk({ content: 'lost' })).slice(0, 60)
    expect(eventsOf(await relay([bytes(`${started}data: ${partial}`)]))).toEqual([
      ...startedEvents,
      errorEvent('api_error', `The engine sent an event that is not JSON: ${partial}`),
    ])
  })

  test('an event that is not JSON is an error event, and nothing follows it', async () => {
    const text = await relay([bytes(started + data('{oops') + data(chunk({ content: 'after' })) + DONE)])
    expect(eventsOf(text)).toEqual([...startedEvents, errorEvent('api_error', 'The engine sent an event that is not JSON: {oops')])
  })

  test('invalid tool arguments at [DONE] are an error event, not message_delta', async () => {
    const call = { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Par' } }
    const text = await relay([bytes(data(chunk({ tool_calls: [call] })) + data(chunk({}, 'tool_calls')) + DONE)])
    expect(eventsOf(text)).toEqual([
      ...opening,
      toolStart(0, 'call_1', 'get_weather'),
      jsonDelta(0, '{"city":"Par'),
      errorEvent('api_error', `The engine called tool 'get_weather' with arguments that are not a JSON object: {"city":"Par`),
    ])
  })
})

describe('streaming behaviour', () => {
  test('each event is forwarded as soon as its bytes arrive, before the engine stream ends', async () => {
    let source!: ReadableStreamDefaultController<Uint8Array>
    const engine = new ReadableStream<Uint8Array>({ start: (c) => void (source = c) })
    const reader = toAnthropicStream(engine, new AnthropicStreamEncoder({ model: MODEL, stopSequences: [] }, 'msg_relay')).getReader()
    const decoder = new TextDecoder()
    source.enqueue(bytes(data(chunk({ content: 'first' }))))
    const first = await reader.read()
    expect(eventsOf(decoder.decode(first.value))).toEqual([...opening, textStart(0), textDelta(0, 'first')])
    source.enqueue(bytes(data(chunk({ content: 'second' }))))
    expect(eventsOf(decoder.decode((await reader.read()).value))).toEqual([textDelta(0, 'second')])
    source.enqueue(bytes(DONE))
    source.close()
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value)
    expect(eventsOf(rest)).toEqual([blockStop(0), messageDelta('end_turn', { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }), messageStop])
  }, 2000)

  test('cancelling the Anthropic stream cancels the engine stream', async () => {
    let cancelled: (reason: unknown) => void = () => {}
    const engineCancelled = new Promise((resolve) => (cancelled = resolve))
    const engine = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(bytes(data(chunk({ content: 'x' })))),
      cancel: (reason) => cancelled(reason),
    })
    const reader = toAnthropicStream(engine, new AnthropicStreamEncoder({ model: MODEL, stopSequences: [] }, 'msg_relay')).getReader()
    await reader.read()
    await reader.cancel('client left')
    expect(await engineCancelled).toBe('client left')
  }, 2000)
})
