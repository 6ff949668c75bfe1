// POST /v1/chat/completions through the official OpenAI SDK and on the wire: plain answers, streams
// with and without usage reporting, n, max_tokens, and engine chunks (reasoning, tool calls) relayed untouched.
import { expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, sharedEngineGateway, type TestGateway } from '../../helpers/gateway'
import { collect, sseChunksOf, sseDataOf } from '../../helpers/sse-client'

let engine: FakeEngine
let gw: TestGateway
let client: OpenAI

sharedEngineGateway((shared) => {
  ;({ engine, gw } = shared)
  client = gw.openai()
}, { models: ['fake-model'] })

const messages = [{ role: 'user' as const, content: 'Hello gateway' }]

/** The only inference request the engine received during the current test. */
function engineRequest() {
  const received = engine.inference()
  expect(received).toHaveLength(1)
  return received[0]!
}

test('non-stream chat through the OpenAI SDK returns the engine answer and usage', async () => {
  const res = await client.chat.completions.create({ model: 'fake-model', messages })
  expect(res.object).toBe('chat.completion')
  expect(res.choices[0]!.message.content).toContain('You said: "Hello gateway"')
  expect(res.choices[0]!.finish_reason).toBe('stop')
  expect(res.usage!.completion_tokens).toBeGreaterThan(0)
  expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens)
})

test('a stream without include_usage gives the SDK no usage-only chunk', async () => {
  const chunks = await collect(await client.chat.completions.create({ model: 'fake-model', messages, stream: true }))
  expect(chunks.length).toBeGreaterThan(2)
  expect(chunks.filter((c) => c.choices.length === 0)).toEqual([])
  expect(chunks.filter((c) => c.usage != null)).toEqual([])
  expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toContain('You said: "Hello gateway"')
  expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
})

test('a stream without include_usage has no usage-only event on the wire', async () => {
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages, stream: true })
  expect(res.status).toBe(200)
  const chunks = sseChunksOf(await res.text())
  expect(chunks.length).toBeGreaterThan(2)
  const usageOnly = chunks.filter((c) => Array.isArray(c.choices) && c.choices.length === 0 && typeof c.usage === 'object' && c.usage !== null)
  expect(usageOnly).toEqual([])
  expect(chunks.filter((c) => c.usage != null)).toEqual([])
})

test('the engine is asked for usage on a stream even when the client did not ask', async () => {
  await collect(await client.chat.completions.create({ model: 'fake-model', messages, stream: true }))
  expect(engineRequest().body.stream_options).toEqual({ include_usage: true })
})

test('a stream with include_usage ends with a usage chunk whose counts match the streamed text', async () => {
  const chunks = await collect(
    await client.chat.completions.create({ model: 'fake-model', messages, stream: true, stream_options: { include_usage: true } }),
  )
  const last = chunks.at(-1)!
  expect(last.choices).toEqual([])
  const usage = last.usage!
  const contentChunks = chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '')
  expect(usage.completion_tokens).toBe(contentChunks.length)
  expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
  expect(chunks.slice(0, -1).filter((c) => c.usage != null)).toEqual([])
  const plain = await client.chat.completions.create({ model: 'fake-model', messages })
  expect(usage).toEqual(plain.usage!)
})

test('a stream ends with data: [DONE] on the wire', async () => {
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages, stream: true })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/event-stream')
  const text = await res.text()
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  const data = sseDataOf(text)
  expect(data.filter((d) => d === '[DONE]')).toHaveLength(1)
  expect(data.at(-1)).toBe('[DONE]')
})

test('n: 2 returns two choices, indexed 0 and 1, and counts both in usage', async () => {
  const one = await client.chat.completions.create({ model: 'fake-model', messages })
  const res = await client.chat.completions.create({ model: 'fake-model', messages, n: 2 })
  expect(res.choices.map((c) => c.index)).toEqual([0, 1])
  for (const choice of res.choices) expect(choice.message.content).toBe(one.choices[0]!.message.content)
  expect(res.usage!.completion_tokens).toBe(2 * one.usage!.completion_tokens)
})

test('n: 2 in a stream interleaves both choices to completion', async () => {
  const chunks = await collect(await client.chat.completions.create({ model: 'fake-model', messages, n: 2, stream: true }))
  const text = ['', '']
  const finish: (string | null)[] = [null, null]
  for (const chunk of chunks)
    for (const choice of chunk.choices) {
      text[choice.index] += choice.delta.content ?? ''
      if (choice.finish_reason) finish[choice.index] = choice.finish_reason
    }
  expect(text[0]).toContain('You said: "Hello gateway"')
  expect(text[1]).toBe(text[0]!)
  expect(finish).toEqual(['stop', 'stop'])
})

test('max_tokens cuts the answer with finish_reason length', async () => {
  const res = await client.chat.completions.create({ model: 'fake-model', messages, max_tokens: 3 })
  expect(res.choices[0]!.finish_reason).toBe('length')
  expect(res.usage!.completion_tokens).toBe(3)
})

test('max_tokens cuts a stream with finish_reason length', async () => {
  const chunks = await collect(await client.chat.completions.create({ model: 'fake-model', messages, max_tokens: 3, stream: true }))
  expect(chunks.filter((c) => c.choices[0]?.delta.content)).toHaveLength(3)
  expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length')
})

// Engine chunks with reasoning and tool-call deltas, as vLLM sends them for a reasoning model calling tools.
const chunkBase = { id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1700000000, model: 'fake-model' }
const scriptedDeltas: Record<string, unknown>[] = [
  { role: 'assistant', content: null, reasoning_content: '' },
  { reasoning_content: 'The user wants ' },
  { reasoning_content: 'the weather in Paris — météo ☀️.' },
  { tool_calls: [{ index: 0, id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
  { tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] },
  { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
  { tool_calls: [{ index: 1, id: 'call_def456', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } }] },
]
const scriptedChunks = [
  ...scriptedDeltas.map((delta) => ({ ...chunkBase, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })),
  { ...chunkBase, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }] },
]
const scriptedStream = () => sseResponse([...scriptedChunks, 'data: [DONE]\n\n'])

test('reasoning_content and tool-call deltas reach the SDK stream exactly as the engine sent them', async () => {
  engine.override = scriptedStream
  const chunks = await collect(await client.chat.completions.create({ model: 'fake-model', messages, stream: true }))
  expect(chunks.map((c) => c.choices[0]!.delta as unknown)).toEqual([...scriptedDeltas, {}])
  expect(chunks as unknown[]).toEqual(scriptedChunks)
})

test('a scripted engine stream reaches the wire byte for byte', async () => {
  engine.override = scriptedStream
  const sent = [...scriptedChunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'].join('')
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages, stream: true })
  expect(await res.text()).toBe(sent)
})

// A non-stream answer as an engine may format it: indented, unicode unescaped, extra fields.
const toolCallAnswer = JSON.stringify(
  {
    id: 'chatcmpl-tools',
    object: 'chat.completion',
    created: 1700000000,
    model: 'fake-model',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          reasoning_content: 'Needs a tool call — 天气.',
          tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
        stop_reason: null,
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21, prompt_tokens_details: null },
    prompt_logprobs: null,
  },
  null,
  2,
)
const toolCallResponse = () => new Response(toolCallAnswer, { headers: { 'content-type': 'application/json' } })

test('a non-stream answer with tool_calls and reasoning_content is returned byte-identical', async () => {
  engine.override = toolCallResponse
  const res = await postJson(gw, '/v1/chat/completions', { model: 'fake-model', messages })
  expect(res.status).toBe(200)
  expect(await res.text()).toBe(toolCallAnswer)
})

test('the SDK reads tool_calls and reasoning_content from a relayed non-stream answer', async () => {
  engine.override = toolCallResponse
  const res = await client.chat.completions.create({ model: 'fake-model', messages })
  const message = res.choices[0]!.message
  expect(res.choices[0]!.finish_reason).toBe('tool_calls')
  expect(message.tool_calls).toEqual([{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }])
  expect((message as unknown as { reasoning_content: string }).reasoning_content).toBe('Needs a tool call — 天气.')
})
