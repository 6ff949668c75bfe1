// Streamed tool use: an engine streaming text and then three parallel tool calls, their arguments cut
// into fragments mid-token, with `tool_calls: []` on its text chunks, reaches the SDK as one text
// block and one tool_use block per call with the right input, partial JSON events on the way, and
// Anthropic's block sequence on the wire; streamed requests carry tools and tool results like others.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, anthropicEventsOf, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, usageChunk } from '../../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const tools: Anthropic.Tool[] = [
  { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
  { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' }, fmt: { type: 'string' } } } },
]
const ask = { model: 'm', max_tokens: 256, tools, messages: [{ role: 'user' as const, content: 'Weather in Paris and Zürich, and the time?' }] }

const fragment = (index: number, args: string, head?: { id: string; name: string }) =>
  chatChunk({ tool_calls: [{ index, ...(head ? { id: head.id, type: 'function' } : {}), function: { ...(head ? { name: head.name } : {}), arguments: args } }] })

/** Each call's argument fragments as the engine streams them: cut inside keys, values and a \u escape. */
const FRAGMENTS: [string, string, string[]][] = [
  ['call_a', 'get_weather', ['', '{"ci', 'ty": "Pa', 'ris"}']],
  ['call_b', 'get_weather', ['{"city"', ': "Z\\u00', 'fcrich"}']],
  ['call_c', 'get_time', ['{"tz": "Europe/', 'Paris", "fmt": "24', 'h"}']],
]
const INPUTS = [{ city: 'Paris' }, { city: 'Zürich' }, { tz: 'Europe/Paris', fmt: '24h' }]

/** vLLM-like: text chunks with `tool_calls: []`, then the three calls in turn, an empty chunk among them. */
function parallelCallsStream(): Response {
  const events: (object | string)[] = [
    chatChunk({ role: 'assistant', content: '', tool_calls: [] }),
    chatChunk({ content: 'Checking', tool_calls: [] }),
    chatChunk({ content: ' now.', tool_calls: [] }),
  ]
  FRAGMENTS.forEach(([id, name, parts], index) => {
    parts.forEach((args, k) => events.push(fragment(index, args, k === 0 ? { id, name } : undefined)))
    if (index === 1) events.push(chatChunk({ content: '', tool_calls: [] }))
  })
  events.push(chatChunk({}, 'tool_calls'), usageChunk({ prompt_tokens: 30, completion_tokens: 40 }), DONE_EVENT)
  return sseResponse(events)
}

test('one streamed tool call ends as a tool_use block with its parsed input and stop_reason tool_use', async () => {
  answerChats(engine, () =>
    sseResponse([
      chatChunk({ role: 'assistant', content: null }),
      fragment(0, '', { id: 'call_1', name: 'get_weather' }),
      fragment(0, '{"city": '),
      fragment(0, '"Paris"}'),
      chatChunk({}, 'tool_calls'),
      usageChunk({ prompt_tokens: 12, completion_tokens: 8 }),
      DONE_EVENT,
    ]),
  )
  const final = await client.messages.stream(ask).finalMessage()
  expect(final.content as unknown[]).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }])
  expect(final.stop_reason).toBe('tool_use')
  expect(final.usage).toMatchObject({ input_tokens: 12, output_tokens: 8 })
})

test('three parallel calls streamed in fragments give finalMessage the text and every tool_use with its input', async () => {
  answerChats(engine, parallelCallsStream)
  const final = await client.messages.stream(ask).finalMessage()
  expect(final.content as unknown[]).toEqual([
    { type: 'text', text: 'Checking now.' },
    ...FRAGMENTS.map(([id, name], i) => ({ type: 'tool_use', id, name, input: INPUTS[i] })),
  ])
  expect(final.stop_reason).toBe('tool_use')
})

test("inputJson events carry each call's fragments in order, and each call's last snapshot is its input", async () => {
  answerChats(engine, parallelCallsStream)
  const stream = client.messages.stream(ask)
  const partials: string[] = []
  const snapshots: unknown[] = []
  stream.on('inputJson', (partial, snapshot) => {
    partials.push(partial)
    snapshots.push(snapshot)
  })
  const blocks: Anthropic.ContentBlock[] = []
  stream.on('contentBlock', (block) => blocks.push(block))
  await stream.done()
  // The empty first fragment of call_a makes no event; every other fragment is one.
  expect(partials).toEqual(FRAGMENTS.flatMap(([, , parts]) => parts.filter(Boolean)))
  const lastOfEach = [3, 6, 9].map((n) => snapshots[n - 1])
  expect(lastOfEach).toEqual(INPUTS)
  expect(blocks.map((b) => b.type)).toEqual(['text', 'tool_use', 'tool_use', 'tool_use'])
})

test('on the wire each block opens after the previous one closed, tool blocks named from their first chunk', async () => {
  answerChats(engine, parallelCallsStream)
  const res = await postJson(gw, '/v1/messages', { ...ask, stream: true })
  const events = anthropicEventsOf(await res.text()).map((e) => e.data)
  const structure = events.filter((e) => e.type !== 'content_block_delta').map((e) => (e.index === undefined ? e.type : `${e.type}:${e.index}`))
  expect(structure).toEqual([
    'message_start',
    'ping',
    'content_block_start:0',
    'content_block_stop:0',
    'content_block_start:1',
    'content_block_stop:1',
    'content_block_start:2',
    'content_block_stop:2',
    'content_block_start:3',
    'content_block_stop:3',
    'message_delta',
    'message_stop',
  ])
  const starts = events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block)
  expect(starts).toEqual([
    { type: 'text', text: '' },
    ...FRAGMENTS.map(([id, name]) => ({ type: 'tool_use', id, name, input: {} })),
  ])
  expect(events.find((e) => e.type === 'message_delta').delta).toEqual({ stop_reason: 'tool_use', stop_sequence: null })
})

test("on the wire each input_json_delta goes to its own call's block index", async () => {
  answerChats(engine, parallelCallsStream)
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...ask, stream: true })).text()).map((e) => e.data)
  const jsonDeltas = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta')
  const byIndex = [1, 2, 3].map((index) =>
    jsonDeltas
      .filter((e) => e.index === index)
      .map((e) => e.delta.partial_json)
      .join(''),
  )
  expect(byIndex.map((json) => JSON.parse(json))).toEqual(INPUTS)
  const textDeltas = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'text_delta')
  expect(textDeltas.map((e) => [e.index, e.delta.text])).toEqual([
    [0, 'Checking'],
    [0, ' now.'],
  ])
})

test('a streamed request carries tools and tool_choice to the engine', async () => {
  await client.messages.stream({ ...ask, tool_choice: { type: 'tool', name: 'get_time' } }).done()
  const body = onlyChatRequest(engine).body
  expect(body.stream).toBe(true)
  expect(body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['get_weather', 'get_time'])
  expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'get_time' } })
})

test('a streamed request carries tool results as tool messages', async () => {
  const messages: Anthropic.MessageParam[] = [
    ...ask.messages,
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_a', content: [{ type: 'text', text: 'rain' }], is_error: false }] },
  ]
  const final = await client.messages.stream({ ...ask, messages }).finalMessage()
  expect(final.stop_reason).toBe('end_turn')
  expect(onlyChatRequest(engine).body.messages.slice(1)).toEqual([
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_a', content: 'rain' },
  ])
})
