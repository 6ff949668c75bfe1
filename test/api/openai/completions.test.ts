// POST /v1/completions (legacy text completion) through the official OpenAI SDK: one prompt or a
// list, plain or streamed, with usage counted by the engine's tokenizer and passed on unchanged.
import { expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { countTokens, mockTokenize } from '../../../src/engines/mock-text'
import { sharedEngineGateway, type TestGateway } from '../../helpers/gateway'
import { collect } from '../../helpers/sse-client'

let gw: TestGateway
let client: OpenAI

sharedEngineGateway((shared) => {
  ;({ gw } = shared)
  client = gw.openai()
}, { models: ['fake-model'] })

const PROMPT = 'Once upon a time'
const PROMPTS = ['The first prompt', 'A second, longer prompt here']

test('a string prompt gets a text_completion whose text answers it', async () => {
  const res = await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100 })
  expect(res.object).toBe('text_completion')
  expect(res.model).toBe('fake-model')
  expect(res.choices).toHaveLength(1)
  expect(res.choices[0]!.index).toBe(0)
  expect(res.choices[0]!.text).toContain(`You said: "${PROMPT}"`)
  expect(res.choices[0]!.finish_reason).toBe('stop')
})

test('max_tokens cuts a completion with finish_reason length', async () => {
  const res = await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 3 })
  expect(res.choices[0]!.finish_reason).toBe('length')
  expect(res.usage!.completion_tokens).toBe(3)
})

test('usage of a string prompt counts the prompt and the generated tokens', async () => {
  const res = await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100 })
  const usage = res.usage!
  expect(usage.prompt_tokens).toBe(countTokens(PROMPT))
  expect(usage.completion_tokens).toBe(mockTokenize(res.choices[0]!.text).length)
  expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
})

test('a list of prompts gets one choice per prompt, in order', async () => {
  const res = await client.completions.create({ model: 'fake-model', prompt: PROMPTS, max_tokens: 100 })
  expect(res.choices.map((c) => c.index)).toEqual([0, 1])
  expect(res.choices[0]!.text).toContain(`You said: "${PROMPTS[0]}"`)
  expect(res.choices[1]!.text).toContain(`You said: "${PROMPTS[1]}"`)
})

test('usage of a list of prompts sums over every prompt and choice', async () => {
  const res = await client.completions.create({ model: 'fake-model', prompt: PROMPTS, max_tokens: 100 })
  const usage = res.usage!
  expect(usage.prompt_tokens).toBe(PROMPTS.reduce((sum, p) => sum + countTokens(p), 0))
  expect(usage.completion_tokens).toBe(res.choices.reduce((sum, c) => sum + mockTokenize(c.text).length, 0))
  expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
})

test('a streamed completion yields the same text as the plain one and finishes', async () => {
  const plain = await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100 })
  const chunks = await collect(await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100, stream: true }))
  expect(chunks.every((c) => c.object === 'text_completion')).toBe(true)
  expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(plain.choices[0]!.text)
  expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
  expect(chunks.filter((c) => c.choices.length === 0 || c.usage != null)).toEqual([])
})

test('a streamed completion with include_usage ends with the same usage as the plain one', async () => {
  const plain = await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100 })
  const chunks = await collect(
    await client.completions.create({ model: 'fake-model', prompt: PROMPT, max_tokens: 100, stream: true, stream_options: { include_usage: true } }),
  )
  const last = chunks.at(-1)!
  expect(last.choices).toEqual([])
  expect(last.usage).toEqual(plain.usage!)
})

test('a streamed list of prompts yields each prompt its own text by index', async () => {
  const plain = await client.completions.create({ model: 'fake-model', prompt: PROMPTS, max_tokens: 100 })
  const chunks = await collect(await client.completions.create({ model: 'fake-model', prompt: PROMPTS, max_tokens: 100, stream: true }))
  const text = ['', '']
  for (const chunk of chunks) for (const choice of chunk.choices) text[choice.index] += choice.text
  expect(text).toEqual(plain.choices.map((c) => c.text))
})
