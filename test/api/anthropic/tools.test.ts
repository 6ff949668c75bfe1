// Tool use without streaming, both directions: tools and tool_choice as the engine receives them,
// the engine's tool_calls as tool_use blocks with parsed input, and the client's tool_result blocks
// (string, blocks, images, is_error) as OpenAI tool messages answering the calls by id.
import type Anthropic from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, completion, onlyChatRequest, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, type FakeEngine } from '../../helpers/fake-engine'

let engine: FakeEngine
let client: Anthropic
sharedGateway((shared) => ({ engine, client } = shared))

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}
const timeTool: Anthropic.Tool = { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } }
const ask = { model: 'm', max_tokens: 128, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] }

test('tools reach the engine as OpenAI functions with their schema as parameters', async () => {
  await client.messages.create({ ...ask, tools: [weatherTool, timeTool] })
  expect(onlyChatRequest(engine).body.tools).toEqual([
    { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: weatherTool.input_schema } },
    { type: 'function', function: { name: 'get_time', parameters: timeTool.input_schema } },
  ])
})

// [tool_choice sent, the OpenAI fields the engine must receive]
const choices: [Anthropic.ToolChoice, Record<string, unknown>][] = [
  [{ type: 'auto' }, { tool_choice: 'auto' }],
  [{ type: 'any' }, { tool_choice: 'required' }],
  [{ type: 'none' }, { tool_choice: 'none' }],
  [{ type: 'tool', name: 'get_weather' }, { tool_choice: { type: 'function', function: { name: 'get_weather' } } }],
  [{ type: 'auto', disable_parallel_tool_use: true }, { tool_choice: 'auto', parallel_tool_calls: false }],
]
for (const [choice, expected] of choices) {
  test(`tool_choice ${JSON.stringify(choice)} reaches the engine as ${JSON.stringify(expected)}`, async () => {
    await client.messages.create({ ...ask, tools: [weatherTool], tool_choice: choice })
    const body = onlyChatRequest(engine).body
    const sent: Record<string, unknown> = { tool_choice: body.tool_choice }
    if (body.parallel_tool_calls !== undefined) sent.parallel_tool_calls = body.parallel_tool_calls
    expect(sent).toEqual(expected)
  })
}

const call = (id: string, name: string, args: string) => ({ id, type: 'function', function: { name, arguments: args } })

test("the engine's tool_calls become tool_use blocks with parsed input and stop_reason tool_use", async () => {
  answerChats(engine, () => jsonResponse(completion({ content: null, tool_calls: [call('call_1', 'get_weather', '{"city": "Paris"}')] }, 'tool_calls')))
  const msg = await client.messages.create({ ...ask, tools: [weatherTool] })
  expect(msg.content as unknown[]).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }])
  expect(msg.stop_reason).toBe('tool_use')
})

test('text before parallel tool calls is a text block followed by one tool_use block per call', async () => {
  const calls = [call('call_1', 'get_weather', '{"city":"Paris"}'), call('call_2', 'get_weather', '{"city":"Oslo"}'), call('call_3', 'get_time', '{}')]
  answerChats(engine, () => jsonResponse(completion({ content: 'Checking both.', tool_calls: calls }, 'tool_calls')))
  const msg = await client.messages.create({ ...ask, tools: [weatherTool, timeTool] })
  expect(msg.content as unknown[]).toEqual([
    { type: 'text', text: 'Checking both.' },
    { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Oslo' } },
    { type: 'tool_use', id: 'call_3', name: 'get_time', input: {} },
  ])
})

test('a tool call with empty arguments has input {} and a call without an id gets a toolu_ id', async () => {
  answerChats(engine, () => jsonResponse(completion({ content: null, tool_calls: [{ type: 'function', function: { name: 'get_time', arguments: '' } }] }, 'tool_calls')))
  const msg = await client.messages.create({ ...ask, tools: [timeTool] })
  const block = msg.content[0] as Anthropic.ToolUseBlock
  expect(block.input).toEqual({})
  expect(block.id).toMatch(/^toolu_/)
})

/** The conversation after the model asked for the weather: its tool_use, and the user's tool_result. */
function afterToolUse(result: Anthropic.ToolResultBlockParam, extra: Anthropic.ContentBlockParam[] = []): Anthropic.MessageParam[] {
  return [
    { role: 'user', content: 'Weather in Paris?' },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
    },
    { role: 'user', content: [result, ...extra] },
  ]
}

test('a tool_result answers the call as an OpenAI tool message after the assistant tool_calls', async () => {
  await client.messages.create({ ...ask, tools: [weatherTool], messages: afterToolUse({ type: 'tool_result', tool_use_id: 'call_1', content: '18°C, sunny' }) })
  expect(onlyChatRequest(engine).body.messages).toEqual([
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: 'Let me check.', tool_calls: [call('call_1', 'get_weather', '{"city":"Paris"}')] },
    { role: 'tool', tool_call_id: 'call_1', content: '18°C, sunny' },
  ])
})

test("an assistant turn of tool_use alone has content null, and the user's text after a tool_result follows the tool message", async () => {
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18°C' }, { type: 'text', text: 'And tomorrow?' }] },
  ]
  await client.messages.create({ ...ask, tools: [weatherTool], messages })
  expect(onlyChatRequest(engine).body.messages.slice(1)).toEqual([
    { role: 'assistant', content: null, tool_calls: [call('call_1', 'get_weather', '{"city":"Paris"}')] },
    { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
    { role: 'user', content: 'And tomorrow?' },
  ])
})

test('a tool_result of text blocks becomes their text joined by newlines', async () => {
  const result: Anthropic.ToolResultBlockParam = {
    type: 'tool_result',
    tool_use_id: 'call_1',
    content: [
      { type: 'text', text: 'Temperature: 18°C' },
      { type: 'text', text: 'Sky: sunny' },
    ],
  }
  await client.messages.create({ ...ask, tools: [weatherTool], messages: afterToolUse(result) })
  expect(onlyChatRequest(engine).body.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'Temperature: 18°C\nSky: sunny' })
})

test('a tool_result with is_error says Error: in the content the model reads', async () => {
  const result: Anthropic.ToolResultBlockParam = { type: 'tool_result', tool_use_id: 'call_1', content: 'city not found', is_error: true }
  await client.messages.create({ ...ask, tools: [weatherTool], messages: afterToolUse(result) })
  expect(onlyChatRequest(engine).body.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'Error: city not found' })
})

test('a tool_result holding an image becomes content parts with an image_url', async () => {
  const result: Anthropic.ToolResultBlockParam = {
    type: 'tool_result',
    tool_use_id: 'call_1',
    content: [
      { type: 'text', text: 'Radar:' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
    ],
  }
  await client.messages.create({ ...ask, tools: [weatherTool], messages: afterToolUse(result) })
  expect(onlyChatRequest(engine).body.messages.at(-1)).toEqual({
    role: 'tool',
    tool_call_id: 'call_1',
    content: [
      { type: 'text', text: 'Radar:' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
    ],
  })
})

test('a full tool round trip: the SDK sends back the tool_use it got and its result, and gets the final answer', async () => {
  answerChats(engine, (req) =>
    jsonResponse(
      req.body.messages.at(-1).role === 'tool'
        ? completion({ content: `It is ${req.body.messages.at(-1).content}.` })
        : completion({ content: null, tool_calls: [call('call_w', 'get_weather', '{"city":"Paris"}')] }, 'tool_calls'),
    ),
  )
  const first = await client.messages.create({ ...ask, tools: [weatherTool] })
  const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!
  const second = await client.messages.create({
    ...ask,
    tools: [weatherTool],
    messages: [...ask.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C' }] }],
  })
  expect(second.content as unknown[]).toEqual([{ type: 'text', text: 'It is 18°C.' }])
  expect(second.stop_reason).toBe('end_turn')
})
