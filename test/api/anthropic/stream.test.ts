// POST /v1/messages with streaming: the SDK's MessageStream (text events in order, finalMessage with
// the engine's final usage, the same shape as the non-stream answer), Anthropic's event order on the
// wire, and engine chunks forwarded as they arrive rather than after the engine finished.
import type Anthropic from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import { answerChats, anthropicEventsOf, type HeldStream, heldStream, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, usageChunk } from '../../helpers/sessions'
import { waitFor } from '../../helpers/wait'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
let held: HeldStream | undefined
// A small pause between the mock's chunks: the gateway sees a stream arrive, not one burst.
sharedGateway((shared) => ({ engine, gw, client } = shared), { chunkDelayMs: 2 })
afterEach(() => {
  held?.close()
  held = undefined
})

const hello = { model: 'm', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello gateway' }] }

/** An engine answer of three text pieces, then its finish and usage chunks. */
const threePieces = () =>
  sseResponse([
    chatChunk({ role: 'assistant', content: '' }),
    chatChunk({ content: 'Hel' }),
    chatChunk({ content: 'lo' }),
    chatChunk({ content: ' world' }),
    chatChunk({}, 'stop'),
    usageChunk({ prompt_tokens: 9, completion_tokens: 3 }),
    DONE_EVENT,
  ])

test('text events reach the SDK in the order the engine sent the pieces', async () => {
  answerChats(engine, threePieces)
  const stream = client.messages.stream(hello)
  const texts: string[] = []
  stream.on('text', (delta) => texts.push(delta))
  await stream.done()
  expect(texts).toEqual(['Hel', 'lo', ' world'])
})

test("finalMessage has the whole text, stop_reason end_turn and the usage of the engine's final chunk", async () => {
  answerChats(engine, threePieces)
  const final = await client.messages.stream(hello).finalMessage()
  expect(final.content as unknown[]).toEqual([{ type: 'text', text: 'Hello world' }])
  expect(final.stop_reason).toBe('end_turn')
  expect(final.stop_sequence).toBeNull()
  expect(final.usage.input_tokens).toBe(9)
  expect(final.usage.output_tokens).toBe(3)
  expect(final.model).toBe('m')
  expect(final.id).toMatch(/^msg_/)
})

test('the engine is asked to stream and to report usage', async () => {
  await client.messages.stream(hello).done()
  expect(onlyChatRequest(engine).body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
})

test("a stream's finalMessage equals the non-stream answer to the same request but for its id", async () => {
  const plain = await client.messages.create(hello)
  const final = await client.messages.stream(hello).finalMessage()
  const shape = (m: Anthropic.Message) => ({ type: m.type, role: m.role, model: m.model, content: m.content, stop_reason: m.stop_reason, stop_sequence: m.stop_sequence, usage: m.usage })
  expect(shape(final)).toEqual(shape(plain))
  expect(final.usage.output_tokens).toBeGreaterThan(3)
  expect(final.id).not.toBe(plain.id)
})

test('every piece the mock engine streams becomes one text event', async () => {
  const stream = client.messages.stream(hello)
  let events = 0
  stream.on('text', () => events++)
  const final = await stream.finalMessage()
  expect(events).toBe(final.usage.output_tokens)
})

test('on the wire: message_start, ping, content_block_start, deltas, content_block_stop, message_delta, message_stop', async () => {
  answerChats(engine, threePieces)
  const res = await postJson(gw, '/v1/messages', { ...hello, stream: true })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/event-stream')
  const events = anthropicEventsOf(await res.text())
  expect(events.map((e) => e.event)).toEqual([
    'message_start',
    'ping',
    'content_block_start',
    'content_block_delta',
    'content_block_delta',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop',
  ])
  // Each event's name is its data's type, as Anthropic sends them.
  for (const e of events) expect(e.data.type).toBe(e.event)
})

test('the wire events carry the message, the block and its deltas at index 0, then stop reason and usage', async () => {
  answerChats(engine, threePieces)
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...hello, stream: true })).text())
  const [start, , blockStart, d1, d2, d3, blockStop, delta] = events.map((e) => e.data)
  expect(start.message).toMatchObject({ type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null })
  expect(start.message.id).toMatch(/^msg_/)
  expect(blockStart).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
  expect([d1, d2, d3].map((d) => d.delta)).toEqual([
    { type: 'text_delta', text: 'Hel' },
    { type: 'text_delta', text: 'lo' },
    { type: 'text_delta', text: ' world' },
  ])
  expect([d1, d2, d3].map((d) => d.index)).toEqual([0, 0, 0])
  expect(blockStop).toEqual({ type: 'content_block_stop', index: 0 })
  expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null })
  expect(delta.usage).toMatchObject({ input_tokens: 9, output_tokens: 3 })
})

test("an engine answer that arrives in one piece, before the client's stream is read, is translated whole", async () => {
  // One write of the whole SSE answer: the relay has it all (and is over) before the client's stream
  // is pulled, so the held events and the ending go out together.
  const whole = [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'All' }), chatChunk({ content: ' at once' }), chatChunk({}, 'stop'), usageChunk({ prompt_tokens: 5, completion_tokens: 2 })]
    .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
    .join('')
  answerChats(engine, () => new Response(whole + DONE_EVENT, { headers: { 'content-type': 'text/event-stream' } }))
  const res = await postJson(gw, '/v1/messages', { ...hello, stream: true })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/event-stream')
  const events = anthropicEventsOf(await res.text())
  expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'])
  expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 5, output_tokens: 2 } })
  answerChats(engine, () => new Response(whole + DONE_EVENT, { headers: { 'content-type': 'text/event-stream' } }))
  const final = await client.messages.stream(hello).finalMessage()
  expect(final.content as unknown[]).toEqual([{ type: 'text', text: 'All at once' }])
})

test('a stream answer carries a request-id header, which the SDK stream exposes', async () => {
  const stream = client.messages.stream(hello)
  await stream.done()
  expect(stream.request_id).toBeTruthy()
  expect(stream.response?.headers.get('request-id')).toBe(stream.request_id!)
})

test('the first text reaches the client while the engine is still generating', async () => {
  const engineStream = (held = heldStream())
  answerChats(engine, () => engineStream.response)
  engineStream.send(chatChunk({ role: 'assistant', content: '' }))
  engineStream.send(chatChunk({ content: 'First' }))

  const stream = client.messages.stream(hello)
  const texts: string[] = []
  stream.on('text', (delta) => texts.push(delta))
  await waitFor(() => texts.length === 1, 5000, 'the first text event')
  expect(texts).toEqual(['First'])
  expect(engineStream.closed).toBe(false)

  engineStream.send(chatChunk({ content: ' second' }))
  await waitFor(() => texts.length === 2, 5000, 'the second text event')
  expect(engineStream.closed).toBe(false)

  engineStream.send(chatChunk({}, 'stop'))
  engineStream.send(usageChunk({ prompt_tokens: 5, completion_tokens: 2 }))
  engineStream.send(DONE_EVENT)
  engineStream.close()
  const final = await stream.finalMessage()
  expect(final.content as unknown[]).toEqual([{ type: 'text', text: 'First second' }])
  expect(final.usage.output_tokens).toBe(2)
})

test('a client that aborts its stream cancels the engine request', async () => {
  const engineStream = (held = heldStream())
  answerChats(engine, () => engineStream.response)
  engineStream.send(chatChunk({ role: 'assistant', content: 'Partial' }))
  const stream = client.messages.stream(hello)
  const texts: string[] = []
  stream.on('text', (delta) => texts.push(delta))
  const ended = stream.done().catch(() => undefined)
  await waitFor(() => texts.length === 1, 5000, 'the first text event')
  stream.abort()
  await ended
  await waitFor(() => engineStream.cancelled || onlyChatRequest(engine).aborted, 5000, 'the engine request to be cancelled')
})
