import { expect, test } from 'bun:test'
import { createMockEngine } from '../../src/engines/mock-engine'
import { countTokens, mockEmbedding, mockTokenize, renderChatPrompt } from '../../src/engines/mock-text'
import { readJson } from '../helpers/http'

const engine = createMockEngine({ models: ['mock', 'other'] })
const post = (path: string, body: object) =>
  engine.handle(new Request(`http://mock/v1${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }))
const messages = [{ role: 'user', content: 'Tell me about gateways' }]

test('the same prompt always gives the same reply, and the reply says it is a mock', async () => {
  const a = await readJson(await post('/chat/completions', { model: 'mock', messages }))
  const b = await readJson(await post('/chat/completions', { model: 'mock', messages }))
  expect(a.choices[0].message.content).toBe(b.choices[0].message.content)
  expect(a.choices[0].message.content).toContain('mock engine')
  expect(a.choices[0].message.content).toContain('Tell me about gateways')
})

test('usage counts match the tokenizer: prompt from the rendered chat, completion from the emitted pieces', async () => {
  const res = await readJson(await post('/chat/completions', { model: 'mock', messages }))
  expect(res.usage.prompt_tokens).toBe(countTokens(renderChatPrompt(messages)))
  expect(res.usage.completion_tokens).toBe(mockTokenize(res.choices[0].message.content).length)
  expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens + res.usage.completion_tokens)
})

test('max_tokens cuts the reply with finish_reason length; a stop sequence cuts it with stop', async () => {
  const cut = await readJson(await post('/chat/completions', { model: 'mock', messages, max_tokens: 3 }))
  expect(cut.usage.completion_tokens).toBe(3)
  expect(cut.choices[0].finish_reason).toBe('length')
  const stopped = await readJson(await post('/chat/completions', { model: 'mock', messages, stop: ['engine'] }))
  expect(stopped.choices[0].message.content).not.toContain('engine')
  expect(stopped.choices[0].finish_reason).toBe('stop')
})

test('a stream carries one piece per chunk, the usage chunk only when asked, then [DONE]', async () => {
  const text = await (await post('/chat/completions', { model: 'mock', messages, stream: true, max_tokens: 4, stream_options: { include_usage: true } })).text()
  const events = text.trim().split('\n\n')
  expect(events.at(-1)).toBe('data: [DONE]')
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))
  const usage = chunks.at(-1)
  expect(usage.choices).toEqual([])
  expect(usage.usage.completion_tokens).toBe(4)
  expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBe(4)
  const plain = await (await post('/chat/completions', { model: 'mock', messages, stream: true })).text()
  expect(plain).not.toContain('"usage"')
})

test('embeddings are deterministic unit vectors, as floats or base64 float32', async () => {
  const floats = await readJson(await post('/embeddings', { model: 'mock', input: ['a', 'b'], encoding_format: 'float' }))
  expect(floats.data).toHaveLength(2)
  const v = floats.data[0].embedding as number[]
  expect(v).toHaveLength(32)
  expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-5)
  const b64 = await readJson(await post('/embeddings', { model: 'mock', input: 'a', encoding_format: 'base64', dimensions: 8 }))
  const decoded = new Float32Array(Buffer.from(b64.data[0].embedding, 'base64').buffer.slice(0))
  expect(Array.from(decoded)).toEqual(Array.from(mockEmbedding('a', 8)))
})

test('models are listed as sagellm-mock, and unknown models are a 404 like an engine', async () => {
  const list = await readJson(await engine.handle(new Request('http://mock/v1/models')))
  expect(list.data.map((m: { id: string; owned_by: string }) => [m.id, m.owned_by])).toEqual([['mock', 'sagellm-mock'], ['other', 'sagellm-mock']])
  expect((await post('/chat/completions', { model: 'nope', messages })).status).toBe(404)
})
