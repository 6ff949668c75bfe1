// POST /v1/embeddings through the official OpenAI SDK (its default base64 transfer and explicit
// floats) and on the wire, single and batch input.
import { expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { type FakeEngine } from '../../helpers/fake-engine'
import { postJson, sharedEngineGateway, type TestGateway } from '../../helpers/gateway'

let engine: FakeEngine
let gw: TestGateway
let client: OpenAI

// The mock engine's default embedding size.
const DIMENSIONS = 32

sharedEngineGateway((shared) => {
  ;({ engine, gw } = shared)
  client = gw.openai()
}, { models: ['fake-embed'] })

function expectVector(vector: unknown, length = DIMENSIONS) {
  expect(Array.isArray(vector)).toBe(true)
  const values = vector as unknown[]
  expect(values).toHaveLength(length)
  expect(values.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true)
  // The mock's vectors have unit length: bytes mangled on the way would break that.
  expect(Math.hypot(...(values as number[]))).toBeCloseTo(1, 5)
}

test('the default SDK call asks the engine for base64 and gets decoded float vectors', async () => {
  const res = await client.embeddings.create({ model: 'fake-embed', input: 'hello world' })
  expect(engine.inference()[0]!.body.encoding_format).toBe('base64')
  expect(res.object).toBe('list')
  expect(res.model).toBe('fake-embed')
  expect(res.data).toHaveLength(1)
  expect(res.data[0]!.index).toBe(0)
  expectVector(res.data[0]!.embedding)
})

test('base64 and float transfers of the same input give the same vector', async () => {
  const viaBase64 = await client.embeddings.create({ model: 'fake-embed', input: 'same text' })
  const viaFloat = await client.embeddings.create({ model: 'fake-embed', input: 'same text', encoding_format: 'float' })
  expect(viaBase64.data[0]!.embedding).toEqual(viaFloat.data[0]!.embedding)
})

test("explicit encoding_format 'float' returns number arrays", async () => {
  const res = await client.embeddings.create({ model: 'fake-embed', input: 'hello world', encoding_format: 'float' })
  expect(engine.inference()[0]!.body.encoding_format).toBe('float')
  expectVector(res.data[0]!.embedding)
})

test('a batch input gets one vector per input, indexed in order, with usage', async () => {
  const input = ['first', 'second text', 'third, the longest of all']
  const res = await client.embeddings.create({ model: 'fake-embed', input })
  expect(res.data.map((d) => d.index)).toEqual([0, 1, 2])
  for (const d of res.data) expectVector(d.embedding)
  expect(new Set(res.data.map((d) => JSON.stringify(d.embedding))).size).toBe(3)
  const singles = await Promise.all(input.map((text) => client.embeddings.create({ model: 'fake-embed', input: text })))
  expect(res.data.map((d) => d.embedding)).toEqual(singles.map((s) => s.data[0]!.embedding))
  expect(res.usage.prompt_tokens).toBe(singles.reduce((sum, s) => sum + s.usage.prompt_tokens, 0))
  expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens)
})

test('dimensions reaches the engine and sizes the vectors', async () => {
  const res = await client.embeddings.create({ model: 'fake-embed', input: 'short', dimensions: 8 })
  expectVector(res.data[0]!.embedding, 8)
})

test('the raw answer has the OpenAI list shape', async () => {
  const res = await postJson(gw, '/v1/embeddings', { model: 'fake-embed', input: ['a', 'b'], encoding_format: 'float' })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const body = (await res.json()) as any
  expect(Object.keys(body).sort()).toEqual(['data', 'model', 'object', 'usage'])
  expect(body.object).toBe('list')
  expect(body.model).toBe('fake-embed')
  expect(body.data).toHaveLength(2)
  body.data.forEach((item: any, i: number) => {
    expect(Object.keys(item).sort()).toEqual(['embedding', 'index', 'object'])
    expect(item.object).toBe('embedding')
    expect(item.index).toBe(i)
    expectVector(item.embedding)
  })
  expect(Object.keys(body.usage).sort()).toEqual(['prompt_tokens', 'total_tokens'])
  expect(body.usage.prompt_tokens).toBeGreaterThan(0)
  expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens)
})
