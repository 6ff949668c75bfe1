// Server-side sessions on /v1/messages: `metadata.session_id` or the `x-session-id` header makes a
// session whose next turn reaches the engine with the earlier turns' translated history, and
// GET /sessions/{id} shows the stored turns; tool use round trips survive the session; a turn whose
// answer the gateway refused stores nothing; a system prompt resent each turn is not repeated.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, chatRequests, completion, rejectionOf, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, fetchSession, messagesOf, storedSession, usageChunk } from '../../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

let counter = 0
const newId = () => `anthropic-session-${++counter}-${crypto.randomUUID().slice(0, 8)}`
const inSession = (id: string) => ({ session_id: id }) as Anthropic.Metadata
const turn = (content: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) => ({
  model: 'm',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content }],
  ...extra,
})
const textOf = (msg: Anthropic.Message) => (msg.content[0] as Anthropic.TextBlock).text

test("metadata.session_id: the second turn reaches the engine with the first turn's history", async () => {
  const id = newId()
  const first = await client.messages.create(turn('My name is Ada.', { metadata: inSession(id) }))
  await client.messages.create(turn('What is my name?', { metadata: inSession(id) }))
  const second = chatRequests(engine)[1]!
  expect(messagesOf(second)).toEqual([
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: textOf(first) },
    { role: 'user', content: 'What is my name?' },
  ])
})

test.each([false, true])('a prefill turn (stream: %p) is stored as one assistant message, the prefill and its continuation', async (stream) => {
  const id = newId()
  answerChats(engine, (req) =>
    (req.body as { stream?: boolean }).stream
      ? sseResponse([chatChunk({ role: 'assistant', content: ' B)' }), chatChunk({}, 'stop'), usageChunk({ prompt_tokens: 9, completion_tokens: 2 }), DONE_EVENT])
      : jsonResponse(completion({ content: ' B)' })),
  )
  const prefilled = turn('Pick A or B.', { metadata: inSession(id), messages: [{ role: 'user', content: 'Pick A or B.' }, { role: 'assistant', content: 'The answer is (' }] })
  if (stream) await client.messages.stream(prefilled).finalMessage()
  else await client.messages.create(prefilled)
  await client.messages.create(turn('Why?', { metadata: inSession(id) }))
  // Two assistant messages in a row would break templates that alternate roles.
  expect(messagesOf(chatRequests(engine)[1]!)).toEqual([
    { role: 'user', content: 'Pick A or B.' },
    { role: 'assistant', content: 'The answer is ( B)' },
    { role: 'user', content: 'Why?' },
  ])
})

test('a last assistant turn with no text (tool use only) is not a prefill: no continue_final_message', async () => {
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} }] },
  ]
  await client.messages.create(turn('', { messages }))
  const body = chatRequests(engine)[0]!.body as Record<string, unknown>
  expect('continue_final_message' in body).toBe(false)
})

test("the x-session-id header: a streamed second turn reaches the engine with the first turn's history", async () => {
  const id = newId()
  const headers = { 'x-session-id': id }
  const first = await client.messages.stream(turn('I live in Oslo.'), { headers }).finalMessage()
  await client.messages.stream(turn('Where do I live?'), { headers }).finalMessage()
  expect(messagesOf(chatRequests(engine)[1]!)).toEqual([
    { role: 'user', content: 'I live in Oslo.' },
    { role: 'assistant', content: textOf(first) },
    { role: 'user', content: 'Where do I live?' },
  ])
})

test('GET /sessions/{id} shows the stored turns of an Anthropic session', async () => {
  const id = newId()
  const first = await client.messages.create(turn('First question', { metadata: inSession(id) }))
  const second = await client.messages.create(turn('Second question'), { headers: { 'x-session-id': id } })
  const session = await storedSession(gw, id)
  expect(session.messages.map((m) => [m.role, m.content])).toEqual([
    ['user', 'First question'],
    ['assistant', textOf(first)],
    ['user', 'Second question'],
    ['assistant', textOf(second)],
  ])
  expect(session.messages[1]!.usage).toEqual({ prompt_tokens: first.usage.input_tokens, completion_tokens: first.usage.output_tokens })
  expect(session.metadata.title).toBe('First question')
})

test('the session id is the gateway’s: neither it nor metadata reaches the engine', async () => {
  await client.messages.create(turn('hello', { metadata: { session_id: newId(), user_id: 'u-1' } as Anthropic.Metadata }))
  const body = chatRequests(engine)[0]!.body
  expect(body.session_id).toBeUndefined()
  expect(body.metadata).toBeUndefined()
  expect(body.user).toBe('u-1')
})

test('a tool use turn is stored with its tool_calls, and the tool_result turn reaches the engine after them', async () => {
  const id = newId()
  const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]
  answerChats(engine, (req) =>
    jsonResponse(
      messagesOf(req).at(-1)!.role === 'tool'
        ? completion({ content: 'Sunny.' })
        : completion({ content: null, tool_calls: [{ id: 'call_s1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }, 'tool_calls'),
    ),
  )
  const first = await client.messages.create(turn('Weather in Oslo?', { tools, metadata: inSession(id) }))
  expect(first.stop_reason).toBe('tool_use')
  // With a session the client sends only the new message: the tool result.
  const result: Anthropic.MessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_s1', content: '21°C' }] }
  const second = await client.messages.create({ model: 'm', max_tokens: 64, tools, metadata: inSession(id), messages: [result] })
  expect(textOf(second)).toBe('Sunny.')
  expect(messagesOf(chatRequests(engine)[1]!)).toEqual([
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_s1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_s1', content: '21°C' },
  ])
})

// Anthropic clients resend `system` with every request; the engine must get it once, first
// (README: system → "a first system message"), not again in the middle of the history.
test('a system prompt sent with every turn reaches the engine once, as the first message', async () => {
  const id = newId()
  await client.messages.create(turn('one', { system: 'You are terse.', metadata: inSession(id) }))
  await client.messages.create(turn('two', { system: 'You are terse.', metadata: inSession(id) }))
  const messages = messagesOf(chatRequests(engine)[1]!)
  expect(messages[0]).toEqual({ role: 'system', content: 'You are terse.' })
  expect(messages.filter((m) => m.role === 'system')).toHaveLength(1)
})

const brokenToolCall = { id: 'call_bad', type: 'function', function: { name: 'get_weather', arguments: '{"city": Oslo' } }

// session-turn.ts: "A failed turn stores nothing." The client got an error, not this reply.
test('a turn whose answer was refused as untranslatable (tool arguments not JSON) stores nothing', async () => {
  const id = newId()
  answerChats(engine, () => jsonResponse(completion({ content: null, tool_calls: [brokenToolCall] }, 'tool_calls')))
  const error = await rejectionOf(client.messages.create(turn('Weather?', { metadata: inSession(id) })))
  expect((error as { status?: number }).status).toBe(502)
  expect((await fetchSession(gw, id)).status).toBe(404)
})

test('a streamed turn that ended in an error event (tool arguments not JSON) stores nothing', async () => {
  const id = newId()
  answerChats(engine, () =>
    sseResponse([
      chatChunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...brokenToolCall }] }),
      chatChunk({}, 'tool_calls'),
      usageChunk({ prompt_tokens: 3, completion_tokens: 3 }),
      DONE_EVENT,
    ]),
  )
  await rejectionOf(client.messages.stream(turn('Weather?', { metadata: inSession(id) })).finalMessage())
  expect((await fetchSession(gw, id)).status).toBe(404)
})
