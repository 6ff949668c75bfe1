// How an answer ended, whole and streamed: a client stop sequence the engine reports as matched
// (vLLM's choice.stop_reason) is stop_reason stop_sequence naming it; finish_reason length is
// max_tokens (tool arguments it cut off included, which are no engine error); a plain stop is
// end_turn; content_filter is refusal.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, anthropicEventsOf, completion, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, usageChunk } from '../../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

// The mock answers 'Mock reply from m (sagellm-gateway's built-in mock engine, …). You said: "…"'.
const ask = { model: 'm', max_tokens: 200, messages: [{ role: 'user' as const, content: 'Hello gateway' }] }
const textOf = (msg: Anthropic.Message) => (msg.content[0] as Anthropic.TextBlock | undefined)?.text ?? ''

test('a stop sequence the engine matched is stop_reason stop_sequence naming it, the text cut before it', async () => {
  const msg = await client.messages.create({ ...ask, stop_sequences: ['never-said', 'built-in'] })
  expect(msg.stop_reason).toBe('stop_sequence')
  expect(msg.stop_sequence).toBe('built-in')
  expect(textOf(msg)).toBe("Mock reply from m (sagellm-gateway's")
  expect(onlyChatRequest(engine).body.stop).toEqual(['never-said', 'built-in'])
})

test('a streamed answer cut by a stop sequence ends with stop_reason stop_sequence naming it', async () => {
  const final = await client.messages.stream({ ...ask, stop_sequences: ['built-in'] }).finalMessage()
  expect(final.stop_reason).toBe('stop_sequence')
  expect(final.stop_sequence).toBe('built-in')
  expect(textOf(final)).toBe("Mock reply from m (sagellm-gateway's")
})

test('stop sequences that never match leave stop_reason end_turn with stop_sequence null', async () => {
  const msg = await client.messages.create({ ...ask, stop_sequences: ['never-said'] })
  expect(msg.stop_reason).toBe('end_turn')
  expect(msg.stop_sequence).toBeNull()
})

test("an engine's stop_reason that is not one of the client's sequences (an EOS token id) is end_turn", async () => {
  answerChats(engine, () => jsonResponse(completion({ content: 'Done.' }, 'stop', undefined, { stop_reason: 151645 })))
  const msg = await client.messages.create({ ...ask, stop_sequences: ['END'] })
  expect(msg.stop_reason).toBe('end_turn')
  expect(msg.stop_sequence).toBeNull()
})

test('finish_reason length is stop_reason max_tokens', async () => {
  const msg = await client.messages.create({ ...ask, max_tokens: 3 })
  expect(msg.stop_reason).toBe('max_tokens')
  expect(msg.stop_sequence).toBeNull()
  expect(msg.usage.output_tokens).toBe(3)
  expect(onlyChatRequest(engine).body.max_tokens).toBe(3)
})

test('a streamed answer cut at max_tokens ends with stop_reason max_tokens', async () => {
  const stream = client.messages.stream({ ...ask, max_tokens: 3 })
  let texts = 0
  stream.on('text', () => texts++)
  const final = await stream.finalMessage()
  expect(final.stop_reason).toBe('max_tokens')
  expect(texts).toBe(3)
  expect(final.usage.output_tokens).toBe(3)
})

test('on the wire a stream cut by a stop sequence reports it in message_delta', async () => {
  answerChats(engine, () =>
    sseResponse([
      chatChunk({ role: 'assistant', content: 'Line one' }),
      { object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop', stop_reason: '\n\n' }] },
      usageChunk({ prompt_tokens: 4, completion_tokens: 2 }),
      DONE_EVENT,
    ]),
  )
  const res = await postJson(gw, '/v1/messages', { ...ask, stream: true, stop_sequences: ['\n\n'] })
  const delta = anthropicEventsOf(await res.text()).find((e) => e.event === 'message_delta')!.data
  expect(delta.delta).toEqual({ stop_reason: 'stop_sequence', stop_sequence: '\n\n' })
  expect(delta.usage).toMatchObject({ input_tokens: 4, output_tokens: 2 })
})

test('finish_reason content_filter is stop_reason refusal', async () => {
  answerChats(engine, () => jsonResponse(completion({ content: '' }, 'content_filter')))
  const msg = await client.messages.create(ask)
  expect(msg.stop_reason).toBe('refusal')
})

const cutCall = { id: 'call_cut', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Par' } }

test('tool arguments cut off by max_tokens are stop_reason max_tokens with the tool_use block, not an error', async () => {
  answerChats(engine, () => jsonResponse(completion({ content: null, tool_calls: [cutCall] }, 'length')))
  const msg = await client.messages.create(ask)
  expect(msg.stop_reason).toBe('max_tokens')
  expect(msg.content.map((b) => [b.type, (b as Anthropic.ToolUseBlock).name])).toEqual([['tool_use', 'get_weather']])
})

test('streamed tool arguments cut off by max_tokens end the stream with stop_reason max_tokens, not an error', async () => {
  answerChats(engine, () =>
    sseResponse([
      chatChunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...cutCall }] }),
      chatChunk({}, 'length'),
      usageChunk({ prompt_tokens: 4, completion_tokens: 64 }),
      DONE_EVENT,
    ]),
  )
  const final = await client.messages.stream(ask).finalMessage()
  expect(final.stop_reason).toBe('max_tokens')
  expect(final.content.map((b) => b.type)).toEqual(['tool_use'])
})
