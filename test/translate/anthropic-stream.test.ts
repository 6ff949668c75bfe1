import { describe, expect, test } from 'bun:test'
import { AnthropicStreamEncoder } from '../../src/translate/anthropic-stream'
import {
  blockStop,
  errorEvent,
  eventsOf,
  jsonDelta,
  messageDelta,
  messageStart,
  messageStop,
  noUsage,
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

const MODEL = 'claude-sonnet-4-5'
const encoderFor = (stopSequences: string[] = []) => new AnthropicStreamEncoder({ model: MODEL, stopSequences }, 'msg_test')
const opening = [messageStart('msg_test', MODEL), ping]

/** Everything the encoder writes for these chunks and then finish(). */
function encode(chunks: Json[], stopSequences: string[] = []): string {
  const encoder = encoderFor(stopSequences)
  return chunks.map((c) => encoder.chunk(c)).join('') + encoder.finish()
}

const call = (index: number, fields: { id?: string; name?: string; arguments?: string }) => {
  const fn: Json = {}
  if (fields.name !== undefined) fn.name = fields.name
  if (fields.arguments !== undefined) fn.arguments = fields.arguments
  return { index, ...(fields.id ? { id: fields.id, type: 'function' } : {}), function: fn }
}
const toolChunk = (...calls: Json[]) => chunk({ tool_calls: calls })

describe('event sequences', () => {
  test('plain text: the exact wire text', () => {
    const text = encode([chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' }), chunk({ content: 'lo' }), chunk({}, 'stop'), usageChunk(12, 2)])
    expect(text).toBe(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":null,"cache_read_input_tokens":null}}}\n\n' +
        'event: ping\ndata: {"type":"ping"}\n\n' +
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}\n\n' +
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":12,"output_tokens":2,"cache_read_input_tokens":null}}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    )
  })

  test('each chunk yields its own events at once: the role chunk yields only message_start and ping', () => {
    const encoder = encoderFor()
    expect(eventsOf(encoder.chunk(chunk({ role: 'assistant', content: '' })))).toEqual(opening)
    expect(eventsOf(encoder.chunk(chunk({ content: 'A' })))).toEqual([textStart(0), textDelta(0, 'A')])
    expect(eventsOf(encoder.chunk(chunk({ content: 'B' })))).toEqual([textDelta(0, 'B')])
    expect(encoder.chunk(chunk({}, 'stop'))).toBe('')
    expect(encoder.chunk(usageChunk(9, 2))).toBe('')
    expect(eventsOf(encoder.finish())).toEqual([blockStop(0), messageDelta('end_turn', { input_tokens: 9, output_tokens: 2, cache_read_input_tokens: null }), messageStop])
  })

  test('thinking then text: index 0 thinking with an empty signature, index 1 text', () => {
    const chunks = [chunk({ reasoning_content: 'Let me' }), chunk({ reasoning_content: ' think.' }), chunk({ reasoning: 'newer field' }), chunk({ content: 'Four.' }), chunk({}, 'stop')]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      thinkingStart(0),
      thinkingDelta(0, 'Let me'),
      thinkingDelta(0, ' think.'),
      thinkingDelta(0, 'newer field'),
      blockStop(0),
      textStart(1),
      textDelta(1, 'Four.'),
      blockStop(1),
      messageDelta('end_turn', noUsage),
      messageStop,
    ])
  })

  test('text, then two tool calls: indices 0, 1, 2, each closed before the next starts', () => {
    const chunks = [
      chunk({ role: 'assistant', content: 'Checking.' }),
      toolChunk(call(0, { id: 'call_a', name: 'get_weather', arguments: '' })),
      toolChunk(call(0, { arguments: '{"city":' })),
      toolChunk(call(0, { arguments: '"Paris"}' })),
      toolChunk(call(1, { id: 'call_b', name: 'get_time', arguments: '{"tz":"CET"}' })),
      chunk({}, 'tool_calls'),
      usageChunk(40, 30),
    ]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      textStart(0),
      textDelta(0, 'Checking.'),
      blockStop(0),
      toolStart(1, 'call_a', 'get_weather'),
      jsonDelta(1, '{"city":'),
      jsonDelta(1, '"Paris"}'),
      blockStop(1),
      toolStart(2, 'call_b', 'get_time'),
      jsonDelta(2, '{"tz":"CET"}'),
      blockStop(2),
      messageDelta('tool_use', { input_tokens: 40, output_tokens: 30, cache_read_input_tokens: null }),
      messageStop,
    ])
  })

  test('`tool_calls: []` in every chunk creates no tool block and no tool_use stop', () => {
    const chunks = [chunk({ content: 'Hi', tool_calls: [] }), chunk({ content: '!', tool_calls: [] }), chunk({ tool_calls: [] }, 'stop')]
    expect(eventsOf(encode(chunks))).toEqual([...opening, textStart(0), textDelta(0, 'Hi'), textDelta(0, '!'), blockStop(0), messageDelta('end_turn', noUsage), messageStop])
  })

  test('stop sequence, length and content_filter finishes', () => {
    const last = (chunks: Json[], stops: string[] = []) => eventsOf(encode(chunks, stops)).at(-2)
    expect(last([chunk({ content: 'x' }), chunk({}, 'stop', { stop_reason: 'END' })], ['END'])).toEqual(messageDelta('stop_sequence', noUsage, 'END'))
    // SGLang names the matched stop string matched_stop.
    expect(last([chunk({ content: 'x' }), chunk({}, 'stop', { matched_stop: 'END' })], ['END'])).toEqual(messageDelta('stop_sequence', noUsage, 'END'))
    expect(last([chunk({ content: 'x' }), chunk({}, 'stop', { stop_reason: 'END' })], ['STOP'])).toEqual(messageDelta('end_turn', noUsage))
    expect(last([chunk({ content: 'x' }), chunk({}, 'length')])).toEqual(messageDelta('max_tokens', noUsage))
    expect(last([chunk({}, 'content_filter')])).toEqual(messageDelta('refusal', noUsage))
  })

  test('choices with index ≠ 0 are ignored, their finish_reason too', () => {
    const twoChoices = { ...chunk({}), choices: [{ index: 1, delta: { content: 'other' }, finish_reason: 'length' }, { index: 0, delta: { content: 'mine' }, finish_reason: null }] }
    expect(eventsOf(encode([twoChoices, chunk({}, 'stop')]))).toEqual([...opening, textStart(0), textDelta(0, 'mine'), blockStop(0), messageDelta('end_turn', noUsage), messageStop])
  })

  test('finish() without any chunk still makes a well-formed empty message', () => {
    expect(eventsOf(encoderFor().finish())).toEqual([...opening, messageDelta('end_turn', noUsage), messageStop])
  })
})

describe('tool call fragments', () => {
  test('arguments split mid-token and mid-character concatenate back to the full arguments', () => {
    const full = '{"city":"Zürich","note":"😀 日本"}'
    const cut = [4, 13, 26, 29, full.length] // 26 falls between the emoji's two UTF-16 halves
    const fragments = cut.map((end, i) => full.slice(i === 0 ? 0 : cut[i - 1], end))
    expect(fragments.join('')).toBe(full)
    expect(fragments[2]!.charCodeAt(fragments[2]!.length - 1)).toBe(0xd83d)
    const chunks = [toolChunk(call(0, { id: 'call_u', name: 'note', arguments: '' })), ...fragments.map((f) => toolChunk(call(0, { arguments: f }))), chunk({}, 'tool_calls')]
    const events = eventsOf(encode(chunks))
    const partial = events.filter((e) => e.event === 'content_block_delta').map((e) => (e.data.delta as Json).partial_json)
    expect(partial).toEqual(fragments)
    expect(partial.join('')).toBe(full)
    expect(JSON.parse(partial.join(''))).toEqual({ city: 'Zürich', note: '😀 日本' })
    expect(events.at(-2)).toEqual(messageDelta('tool_use', noUsage))
  })

  test('id and arguments before the name: nothing until the name comes, then start and the pending arguments at once', () => {
    const encoder = encoderFor()
    expect(eventsOf(encoder.chunk(toolChunk(call(0, { id: 'call_1', arguments: '{"q":' }))))).toEqual(opening)
    expect(encoder.chunk(toolChunk(call(0, { arguments: '"x"}' })))).toBe('')
    expect(eventsOf(encoder.chunk(toolChunk(call(0, { name: 'search' }))))).toEqual([toolStart(0, 'call_1', 'search'), jsonDelta(0, '{"q":"x"}')])
    expect(eventsOf(encoder.chunk(toolChunk(call(0, { arguments: '' }))))).toEqual([])
    expect(eventsOf(encoder.finish())).toEqual([blockStop(0), messageDelta('tool_use', noUsage), messageStop])
  })

  test('name before id: the block starts when the name is known, with a generated toolu_ id', () => {
    const encoder = encoderFor()
    const first = eventsOf(encoder.chunk(toolChunk(call(0, { name: 'lookup' }))))
    expect(first).toEqual([...opening, toolStart(0, expect.stringMatching(/^toolu_[0-9a-f]{24}$/), 'lookup')])
    expect(eventsOf(encoder.chunk(toolChunk(call(0, { id: 'call_late', arguments: '{"k":1}' }))))).toEqual([jsonDelta(0, '{"k":1}')])
    expect(eventsOf(encoder.finish())).toEqual([blockStop(0), messageDelta('tool_use', noUsage), messageStop])
  })

  test('interleaved text and tool deltas: text after a tool opens a new block, the tool keeps its index', () => {
    const chunks = [
      chunk({ content: 'Let me look.' }),
      toolChunk(call(0, { id: 'call_1', name: 'search', arguments: '{"q":' })),
      chunk({ content: ' One moment.' }),
      toolChunk(call(0, { arguments: '"cats"}' })),
      chunk({}, 'tool_calls'),
    ]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      textStart(0),
      textDelta(0, 'Let me look.'),
      blockStop(0),
      toolStart(1, 'call_1', 'search'),
      jsonDelta(1, '{"q":'),
      blockStop(1),
      textStart(2),
      textDelta(2, ' One moment.'),
      jsonDelta(1, '"cats"}'),
      blockStop(2),
      messageDelta('tool_use', noUsage),
      messageStop,
    ])
  })

  test('a late fragment for an earlier, closed tool call goes to that call’s index', () => {
    const chunks = [
      toolChunk(call(0, { id: 'call_a', name: 'a', arguments: '{"x":' })),
      toolChunk(call(1, { id: 'call_b', name: 'b', arguments: '{"y":2}' })),
      toolChunk(call(0, { arguments: '1}' })),
      chunk({}, 'tool_calls'),
    ]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      toolStart(0, 'call_a', 'a'),
      jsonDelta(0, '{"x":'),
      blockStop(0),
      toolStart(1, 'call_b', 'b'),
      jsonDelta(1, '{"y":2}'),
      jsonDelta(0, '1}'),
      blockStop(1),
      messageDelta('tool_use', noUsage),
      messageStop,
    ])
  })

  test('two calls in one chunk, without index fields, take their positions', () => {
    const both = chunk({ tool_calls: [{ id: 'c1', function: { name: 'a', arguments: '{}' } }, { id: 'c2', function: { name: 'b', arguments: '{}' } }] })
    expect(eventsOf(encode([both, chunk({}, 'tool_calls')]))).toEqual([
      ...opening,
      toolStart(0, 'c1', 'a'),
      jsonDelta(0, '{}'),
      blockStop(0),
      toolStart(1, 'c2', 'b'),
      jsonDelta(1, '{}'),
      blockStop(1),
      messageDelta('tool_use', noUsage),
      messageStop,
    ])
  })

  test('calls without index in chunks of their own: a new id is a new call, a fragment without id continues the last', () => {
    const chunks = [
      chunk({ tool_calls: [{ id: 'c1', function: { name: 'a', arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ id: 'c2', function: { name: 'b', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
    ]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      toolStart(0, 'c1', 'a'),
      jsonDelta(0, '{"x":'),
      jsonDelta(0, '1}'),
      blockStop(0),
      toolStart(1, 'c2', 'b'),
      jsonDelta(1, '{}'),
      blockStop(1),
      messageDelta('tool_use', noUsage),
      messageStop,
    ])
  })
})

describe('failures and the end of the stream', () => {
  test('invalid accumulated tool arguments: finish() sends an error event instead of message_delta', () => {
    const encoder = encoderFor()
    encoder.chunk(toolChunk(call(0, { id: 'call_1', name: 'get_weather', arguments: '{"city":' })))
    expect(eventsOf(encoder.finish())).toEqual([errorEvent('api_error', `The engine called tool 'get_weather' with arguments that are not a JSON object: {"city":`)])
    expect(encoder.finish()).toBe('')
    expect(encoder.chunk(chunk({ content: 'late' }))).toBe('')
  })

  // Anthropic's documented behaviour (handling stop reasons, "Incomplete tool use blocks"): a reply cut by
  // max_tokens inside a tool_use block ends normally with stop_reason max_tokens; the client retries with more.
  test('arguments cut off by finish_reason length end with max_tokens, not an error event', () => {
    const chunks = [toolChunk(call(0, { id: 'call_1', name: 'write_file', arguments: '{"path":"a.txt","text":"Once upon' })), chunk({}, 'length'), usageChunk(50, 64)]
    expect(eventsOf(encode(chunks))).toEqual([
      ...opening,
      toolStart(0, 'call_1', 'write_file'),
      jsonDelta(0, '{"path":"a.txt","text":"Once upon'),
      blockStop(0),
      messageDelta('max_tokens', { input_tokens: 50, output_tokens: 64, cache_read_input_tokens: null }),
      messageStop,
    ])
  })

  test('a tool call whose name never came: finish() sends an error event', () => {
    const encoder = encoderFor()
    encoder.chunk(toolChunk(call(0, { id: 'call_1', arguments: '{}' })))
    expect(eventsOf(encoder.finish())).toEqual([errorEvent('api_error', 'The engine streamed a tool call without a name')])
  })

  test('fail() after start: one error event, nothing after it', () => {
    const encoder = encoderFor()
    expect(eventsOf(encoder.chunk(chunk({ content: 'Hi' })))).toEqual([...opening, textStart(0), textDelta(0, 'Hi')])
    expect(eventsOf(encoder.fail('Engine e1 failed mid-stream: reset', 'overloaded_error'))).toEqual([errorEvent('overloaded_error', 'Engine e1 failed mid-stream: reset')])
    expect(encoder.chunk(chunk({ content: 'more' }))).toBe('')
    expect(encoder.finish()).toBe('')
    expect(encoder.fail('again')).toBe('')
  })

  test('fail() defaults to api_error', () => {
    expect(eventsOf(encoderFor().fail('boom'))).toEqual([errorEvent('api_error', 'boom')])
  })

  test('nothing is emitted after finish()', () => {
    const encoder = encoderFor()
    encoder.chunk(chunk({ content: 'Hi' }, 'stop'))
    expect(eventsOf(encoder.finish()).at(-1)).toEqual(messageStop)
    expect(encoder.chunk(chunk({ content: 'more' }))).toBe('')
    expect(encoder.chunk(usageChunk(1, 1))).toBe('')
    expect(encoder.finish()).toBe('')
    expect(encoder.fail('late')).toBe('')
  })
})
