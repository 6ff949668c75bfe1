// Extended thinking: `thinking: {type: enabled}` (or adaptive, or between_tools) switches the chat
// template's thinking on at the engine; the engine's reasoning_content (whole or streamed) comes back
// as a thinking block before the text block (empty with display "omitted", not at all when thinking
// was not asked for); thinking blocks in the client's history are not sent back to the engine.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, anthropicEventsOf, chatRequests, completion, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, usageChunk } from '../../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const ask = { model: 'm', max_tokens: 2048, messages: [{ role: 'user' as const, content: 'What is 17 * 23?' }] }
const enabled: Anthropic.ThinkingConfigParam = { type: 'enabled', budget_tokens: 1024 }

test('thinking enabled asks the engine for enable_thinking through chat_template_kwargs', async () => {
  await client.messages.create({ ...ask, thinking: enabled })
  const body = onlyChatRequest(engine).body
  expect(body.chat_template_kwargs).toMatchObject({ enable_thinking: true })
  // budget_tokens has no OpenAI counterpart and Anthropic's own field does not leak.
  expect(body.thinking).toBeUndefined()
  expect(JSON.stringify(body)).not.toContain('budget_tokens')
})

test('thinking adaptive (display omitted) asks the engine for exactly what enabled does', async () => {
  await client.messages.create({ ...ask, thinking: enabled })
  await client.messages.create({ ...ask, thinking: { type: 'adaptive', display: 'omitted' } })
  const [fromEnabled, fromAdaptive] = chatRequests(engine)
  expect(fromAdaptive!.body.chat_template_kwargs).toEqual(fromEnabled!.body.chat_template_kwargs)
  expect(fromAdaptive!.body.chat_template_kwargs).toMatchObject({ enable_thinking: true })
  expect(fromAdaptive!.text).not.toContain('display')
})

test('thinking between_tools, and enabled with display: null, switch enable_thinking on', async () => {
  await client.messages.create({ ...ask, thinking: { type: 'between_tools' } })
  await client.messages.create({ ...ask, thinking: { ...enabled, display: null } })
  const [betweenTools, nullDisplay] = chatRequests(engine)
  expect(betweenTools!.body.chat_template_kwargs).toMatchObject({ enable_thinking: true })
  expect(nullDisplay!.body.chat_template_kwargs).toMatchObject({ enable_thinking: true })
})

test('thinking disabled switches enable_thinking off', async () => {
  await client.messages.create({ ...ask, thinking: { type: 'disabled' } })
  expect(onlyChatRequest(engine).body.chat_template_kwargs).toMatchObject({ enable_thinking: false })
})

test('without thinking the engine gets no chat_template_kwargs', async () => {
  await client.messages.create(ask)
  expect(onlyChatRequest(engine).body.chat_template_kwargs).toBeUndefined()
})

test("the engine's reasoning_content is a thinking block before the text block", async () => {
  answerChats(engine, () => jsonResponse(completion({ reasoning_content: '17 * 23 = 340 + 51 = 391.', content: '391' })))
  const msg = await client.messages.create({ ...ask, thinking: enabled })
  expect(msg.content as unknown[]).toEqual([
    { type: 'thinking', thinking: '17 * 23 = 340 + 51 = 391.', signature: '' },
    { type: 'text', text: '391' },
  ])
  expect(msg.stop_reason).toBe('end_turn')
})

test("an engine's `reasoning` field (newer vLLM) is a thinking block too", async () => {
  answerChats(engine, () => jsonResponse(completion({ reasoning: 'Multiply.', content: '391' })))
  const msg = await client.messages.create({ ...ask, thinking: enabled })
  expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text'])
  expect((msg.content[0] as Anthropic.ThinkingBlock).thinking).toBe('Multiply.')
})

const reasoningStream = () =>
  sseResponse([
    chatChunk({ role: 'assistant', content: '', reasoning_content: '' }),
    chatChunk({ reasoning_content: '17 * 23 ' }),
    chatChunk({ reasoning_content: '= 391.' }),
    chatChunk({ content: 'It is ' }),
    chatChunk({ content: '391.' }),
    chatChunk({}, 'stop'),
    usageChunk({ prompt_tokens: 14, completion_tokens: 9 }),
    DONE_EVENT,
  ])

test('streamed reasoning becomes thinking events, then text events, and finalMessage has both blocks in order', async () => {
  answerChats(engine, reasoningStream)
  const stream = client.messages.stream({ ...ask, thinking: enabled })
  const order: string[] = []
  stream.on('thinking', (delta) => order.push(`thinking:${delta}`))
  stream.on('text', (delta) => order.push(`text:${delta}`))
  const final = await stream.finalMessage()
  expect(order).toEqual(['thinking:17 * 23 ', 'thinking:= 391.', 'text:It is ', 'text:391.'])
  expect(final.content as unknown[]).toEqual([
    { type: 'thinking', thinking: '17 * 23 = 391.', signature: '' },
    { type: 'text', text: 'It is 391.' },
  ])
  expect(final.usage).toMatchObject({ input_tokens: 14, output_tokens: 9 })
})

test('on the wire the thinking block is index 0 and closes before the text block opens at index 1', async () => {
  answerChats(engine, reasoningStream)
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...ask, thinking: enabled, stream: true })).text()).map((e) => e.data)
  const blocks = events.filter((e) => e.type.startsWith('content_block')).map((e) => `${e.type}:${e.index}:${e.delta?.type ?? e.content_block?.type ?? ''}`)
  expect(blocks).toEqual([
    'content_block_start:0:thinking',
    'content_block_delta:0:thinking_delta',
    'content_block_delta:0:thinking_delta',
    'content_block_stop:0:',
    'content_block_start:1:text',
    'content_block_delta:1:text_delta',
    'content_block_delta:1:text_delta',
    'content_block_stop:1:',
  ])
})

test.each([
  ['not asked for', {}],
  ['disabled', { thinking: { type: 'disabled' } }],
] as const)("with thinking %s, a reasoning engine's reasoning is not shown: the text is content[0]", async (_, extra) => {
  answerChats(engine, () => jsonResponse(completion({ reasoning_content: 'scratch work', content: '391' })))
  const msg = await client.messages.create({ ...ask, ...extra })
  expect(msg.content as unknown[]).toEqual([{ type: 'text', text: '391' }])
  answerChats(engine, reasoningStream)
  const final = await client.messages.stream({ ...ask, ...extra }).finalMessage()
  expect(final.content as unknown[]).toEqual([{ type: 'text', text: 'It is 391.' }])
})

test('display "omitted" keeps the thinking block but not its text, whole and streamed (no thinking_delta)', async () => {
  const omitted = { ...ask, thinking: { type: 'adaptive', display: 'omitted' } } as const
  answerChats(engine, () => jsonResponse(completion({ reasoning_content: 'scratch work', content: '391' })))
  const msg = await client.messages.create(omitted)
  expect(msg.content as unknown[]).toEqual([
    { type: 'thinking', thinking: '', signature: '' },
    { type: 'text', text: '391' },
  ])
  answerChats(engine, reasoningStream)
  const text = await (await postJson(gw, '/v1/messages', { ...omitted, stream: true })).text()
  expect(text).not.toContain('17 * 23')
  const blocks = anthropicEventsOf(text)
    .map((e) => e.data)
    .filter((e) => e.type.startsWith('content_block'))
    .map((e) => `${e.type}:${e.index}:${e.delta?.type ?? e.content_block?.type ?? ''}`)
  expect(blocks).toEqual(['content_block_start:0:thinking', 'content_block_stop:0:', 'content_block_start:1:text', 'content_block_delta:1:text_delta', 'content_block_delta:1:text_delta', 'content_block_stop:1:'])
})

test('thinking blocks in the assistant history are not sent back to the engine', async () => {
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: 'What is 17 * 23?' },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'secret scratch work', signature: 'sig' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'text', text: '391' },
      ],
    },
    { role: 'user', content: 'And 17 * 24?' },
  ]
  await client.messages.create({ ...ask, thinking: enabled, messages })
  const req = onlyChatRequest(engine)
  expect(req.body.messages[1]).toEqual({ role: 'assistant', content: '391' })
  expect(req.text).not.toContain('secret scratch work')
})
