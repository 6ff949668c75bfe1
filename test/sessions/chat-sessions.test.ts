// Chat turns on a server-side session, through the official OpenAI SDK against a real loopback
// engine: the engine gets the stored history before the turn's own messages, exactly as stored;
// GET /sessions/{id} shows what a turn stored (messages, timestamps, engine metadata, usage, merged
// tool-call and reasoning deltas); an unknown id creates the session; the first user message titles it.
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'bun:test'
import { sseResponse, startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../helpers/gateway'
import {
  asEngineMessages,
  chatChunk,
  chatTurn,
  DONE_EVENT,
  fetchSession,
  messagesOf,
  sessionSummary,
  storedSession,
  usageChunk,
  type ChatMessage,
  type Via,
} from '../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway

beforeAll(async () => {
  engine = await startFakeEngine({ models: ['m'] })
  gw = await startGateway(['--engine', engine.url])
})
afterAll(async () => {
  await gw.stop()
  await engine.stop()
})
beforeEach(() => {
  engine.requests.length = 0
})
afterEach(() => {
  engine.override = undefined
})

let sessions = 0
const newSessionId = () => `chat-${++sessions}-${crypto.randomUUID()}`

/** Makes the engine answer its next inference request with `events`, and later ones as the mock does. */
function scriptNextStream(events: (object | string)[]): void {
  engine.override = (req) => {
    if (req.method !== 'POST') return undefined
    engine.override = undefined
    return sseResponse(events)
  }
}

const ways: [boolean, Via][] = [
  [false, 'session_id'],
  [false, 'x-session-id'],
  [true, 'session_id'],
  [true, 'x-session-id'],
]

test.each(ways)('history injection (stream: %p, session named by %s): turn 2 sends turn 1 and its reply first', async (stream, via) => {
  const id = newSessionId()
  const reply1 = await chatTurn(gw, id, 'A', { stream, via })
  expect(reply1.content).toContain('You said: "A"')
  expect(messagesOf(engine.inference()[0]!)).toEqual([{ role: 'user', content: 'A' }])

  await chatTurn(gw, id, 'B', { stream, via })
  expect(engine.inference()).toHaveLength(2)
  expect(messagesOf(engine.inference()[1]!)).toEqual([
    { role: 'user', content: 'A' },
    { role: 'assistant', content: reply1.content },
    { role: 'user', content: 'B' },
  ])
})

test.each([
  ['a string', 'The answer is (', false, ' B)', 'The answer is ( B)'],
  // vLLM renders text parts joined by newlines: the stored message is the text the engine continued.
  ['text parts', [{ type: 'text', text: 'The answer' }, { type: 'text', text: 'is (' }], false, ' B)', 'The answer\nis ( B)'],
  ['a string, echoed back by the engine (echo: true)', 'The answer is (', true, 'The answer is ( B)', 'The answer is ( B)'],
])('continue_final_message with the prefill as %s: stored as one assistant message, whole', async (_, prefill, echo, answer, stored) => {
  const id = newSessionId()
  engine.override = (req) => (req.method === 'POST' ? Response.json({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }) : undefined)
  const res = await postJson(gw, '/v1/chat/completions', {
    model: 'm',
    session_id: id,
    continue_final_message: true,
    add_generation_prompt: false,
    ...(echo ? { echo: true } : {}),
    messages: [
      { role: 'user', content: 'Pick A or B.' },
      { role: 'assistant', content: prefill },
    ],
  })
  expect(res.status).toBe(200)
  const session = await storedSession(gw, id)
  expect(session.messages.map((m) => [m.role, m.content])).toEqual([
    ['user', 'Pick A or B.'],
    ['assistant', stored],
  ])
})

test('session_id is not forwarded to the engine; the other extra fields are', async () => {
  await chatTurn(gw, newSessionId(), 'hello', { extra: { top_k: 7, chat_template_kwargs: { thinking: false } } })
  const body = engine.inference()[0]!.body
  expect(body).not.toHaveProperty('session_id')
  expect(body.top_k).toBe(7)
  expect(body.chat_template_kwargs).toEqual({ thinking: false })
})

test('a stored non-streamed turn: user then assistant, timestamps, engine_id, finish_reason and the engine usage', async () => {
  const id = newSessionId()
  const started = Date.now()
  const reply = await chatTurn(gw, id, 'What is stored?')
  const session = await storedSession(gw, id)
  expect(session.id).toBe(id)
  const [user, assistant] = session.messages
  expect(session.messages).toHaveLength(2)
  expect(user).toMatchObject({ role: 'user', content: 'What is stored?' })
  expect(assistant).toMatchObject({ role: 'assistant', content: reply.content })
  for (const m of session.messages) {
    const at = Date.parse(m.timestamp)
    expect(at).toBeGreaterThanOrEqual(started - 1000)
    expect(at).toBeLessThanOrEqual(Date.now() + 1000)
  }
  expect(assistant!.metadata).toMatchObject({ engine_id: gw.registry.all[0]!.id, finish_reason: 'stop', model: 'm' })
  expect(assistant!.usage).toEqual({ prompt_tokens: reply.usage!.prompt_tokens, completion_tokens: reply.usage!.completion_tokens })
  expect(user!.usage).toBeUndefined()
})

test('a streamed reply is stored as its concatenated deltas, with the usage the engine reported', async () => {
  scriptNextStream([
    chatChunk({ role: 'assistant', content: '' }),
    chatChunk({ content: 'Hel' }),
    chatChunk({ content: 'lo ' }),
    chatChunk({ content: 'there' }),
    chatChunk({}, 'stop'),
    usageChunk({ prompt_tokens: 11, completion_tokens: 3 }),
    DONE_EVENT,
  ])
  const id = newSessionId()
  const reply = await chatTurn(gw, id, 'greet me', { stream: true })
  // The client did not ask for usage, so it saw none; the gateway still stored the engine's.
  expect(reply).toEqual({ content: 'Hello there', finishReason: 'stop', usage: undefined })
  const assistant = (await storedSession(gw, id)).messages[1]!
  expect(assistant).toMatchObject({ role: 'assistant', content: 'Hello there', usage: { prompt_tokens: 11, completion_tokens: 3 } })
  expect(assistant.metadata).toMatchObject({ engine_id: gw.registry.all[0]!.id, finish_reason: 'stop', model: 'm' })
  expect(assistant.metadata).not.toHaveProperty('truncated')
})

test('a streamed reply with include_usage stores the usage the client received', async () => {
  const id = newSessionId()
  const reply = await chatTurn(gw, id, 'count me', { stream: true, extra: { stream_options: { include_usage: true } } })
  expect(reply.usage!.completion_tokens).toBeGreaterThan(0)
  expect((await storedSession(gw, id)).messages[1]!.usage).toEqual({ prompt_tokens: reply.usage!.prompt_tokens, completion_tokens: reply.usage!.completion_tokens })
})

const weatherCalls = [
  { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
  { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC"}' } },
]

/** Two tool calls whose names and arguments arrive in pieces, interleaved. */
const toolCallStream = [
  chatChunk({ role: 'assistant', content: null }),
  chatChunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_', arguments: '' } }] }),
  chatChunk({ tool_calls: [{ index: 0, function: { name: 'weather', arguments: '{"ci' } }] }),
  chatChunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":' } }] }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] }),
  chatChunk({ tool_calls: [{ index: 1, function: { arguments: '"UTC"}' } }] }),
  chatChunk({}, 'tool_calls'),
  usageChunk({ prompt_tokens: 20, completion_tokens: 12 }),
  DONE_EVENT,
]

test('streamed tool-call deltas are stored merged as tool_calls', async () => {
  scriptNextStream(toolCallStream)
  const id = newSessionId()
  await chatTurn(gw, id, 'weather and time?', { stream: true, extra: { tools: [] } })
  const assistant = (await storedSession(gw, id)).messages[1]!
  expect(asEngineMessages([assistant])).toEqual([{ role: 'assistant', content: null, tool_calls: weatherCalls }])
  expect(assistant.metadata.finish_reason).toBe('tool_calls')
})

test('merged tool calls are sent back to the engine before the tool results of the next turn', async () => {
  scriptNextStream(toolCallStream)
  const id = newSessionId()
  await chatTurn(gw, id, 'weather and time?', { stream: true })
  const results = [
    { role: 'tool', tool_call_id: 'call_a', content: '18C' },
    { role: 'tool', tool_call_id: 'call_b', content: '12:00' },
  ] satisfies ChatMessage[]
  await chatTurn(gw, id, results)
  expect(messagesOf(engine.inference()[1]!)).toEqual([
    { role: 'user', content: 'weather and time?' },
    { role: 'assistant', content: null, tool_calls: weatherCalls },
    ...results,
  ])
  expect((await sessionSummary(gw, id)).message_count).toBe(5)
})

test('streamed reasoning_content deltas are stored with the reply', async () => {
  scriptNextStream([
    chatChunk({ role: 'assistant', content: '' }),
    chatChunk({ reasoning_content: 'The user ' }),
    chatChunk({ reasoning_content: 'wants a number.' }),
    chatChunk({ content: '4' }),
    chatChunk({ content: '2' }),
    chatChunk({}, 'stop'),
    DONE_EVENT,
  ])
  const id = newSessionId()
  const reply = await chatTurn(gw, id, 'pick a number', { stream: true })
  expect(reply.content).toBe('42')
  const assistant = (await storedSession(gw, id)).messages[1]!
  expect(asEngineMessages([assistant])).toEqual([{ role: 'assistant', content: '42', reasoning_content: 'The user wants a number.' }])
  // Kept in the session, but not sent back: engines reject reasoning_content in input messages.
  await chatTurn(gw, id, 'why 42?')
  expect(messagesOf(engine.inference().at(-1)!)).toEqual([
    { role: 'user', content: 'pick a number' },
    { role: 'assistant', content: '42' },
    { role: 'user', content: 'why 42?' },
  ])
})

test('a turn on an unknown session id creates the session under that id', async () => {
  const id = newSessionId()
  expect((await fetchSession(gw, id)).status).toBe(404)
  await chatTurn(gw, id, 'first words')
  const session = await storedSession(gw, id)
  expect(session.id).toBe(id)
  expect(session.messages.map((m) => m.role)).toEqual(['user', 'assistant'])
  expect((await sessionSummary(gw, id)).message_count).toBe(2)
})

test("the first user message's first non-empty line, cut at 60 characters, titles the session", async () => {
  const id = newSessionId()
  const line = 'Plan a four day trip to Lisbon in spring on a budget of two thousand euros'
  await chatTurn(gw, id, [
    { role: 'system', content: 'You are a travel agent.' },
    { role: 'user', content: `\n   ${line}  \nwith museums` },
  ])
  expect((await storedSession(gw, id)).metadata.title).toBe(line.slice(0, 60))
  expect((await sessionSummary(gw, id)).title).toBe(line.slice(0, 60))
})

test('later turns keep the title the first turn gave', async () => {
  const id = newSessionId()
  await chatTurn(gw, id, 'First topic')
  await chatTurn(gw, id, 'Second topic')
  expect((await storedSession(gw, id)).metadata.title).toBe('First topic')
})

test('a session created with a title keeps it after its first turn', async () => {
  const id = newSessionId()
  const res = await postJson(gw, '/sessions', { session_id: id, title: 'My title' })
  expect(res.status).toBe(200)
  await chatTurn(gw, id, 'Some question')
  const session = await storedSession(gw, id)
  expect(session.metadata.title).toBe('My title')
  expect(session.messages).toHaveLength(2)
})
