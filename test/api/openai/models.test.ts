// GET /v1/models and /v1/models/{id} through the official OpenAI SDK: one entry per model however
// many engines serve it, each engine's own card, ids with slashes, and 404 for unknown ids; through
// the official Anthropic SDK (which sends anthropic-version): Anthropic ModelInfo objects in cursor
// pages, and 404 not_found_error in Anthropic's envelope.
import Anthropic, { NotFoundError as AnthropicNotFoundError } from '@anthropic-ai/sdk'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import OpenAI, { NotFoundError } from 'openai'
import { anthropicClient, expectAnthropicError } from '../../helpers/anthropic'
import { jsonResponse, startFakeEngine, type FakeEngine } from '../../helpers/fake-engine'
import { startGateway, type TestGateway } from '../../helpers/gateway'
import { collect } from '../../helpers/sse-client'

let engineA: FakeEngine
let engineB: FakeEngine
let gw: TestGateway
let client: OpenAI
let anthropic: Anthropic

beforeAll(async () => {
  engineA = await startFakeEngine({ models: ['shared-model', 'org/name', 'only-a'] })
  engineB = await startFakeEngine({ models: ['shared-model', 'org/name', 'only-b'] })
  // Engine B's cards are vLLM's: with a creation time and the context window.
  const card = (id: string) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'fake-owner', max_model_len: 32_768 })
  engineB.override = (req) => (req.path === '/v1/models' ? jsonResponse({ object: 'list', data: ['shared-model', 'org/name', 'only-b'].map(card) }) : undefined)
  gw = await startGateway(['--mock', '--mock-model', 'mock-model', '--engine', engineA.url, '--engine', engineB.url])
  client = gw.openai()
  anthropic = anthropicClient(gw)
})
afterAll(async () => {
  await gw.stop()
  await engineA.stop()
  await engineB.stop()
})

test('models.list() lists every served model exactly once', async () => {
  const models = await collect(client.models.list())
  expect(models.map((m) => m.id).sort()).toEqual(['mock-model', 'only-a', 'only-b', 'org/name', 'shared-model'])
})

test('each listed model is an OpenAI model card', async () => {
  for (const m of await collect(client.models.list())) {
    expect(m.object).toBe('model')
    expect(typeof m.created).toBe('number')
    expect(typeof m.owned_by).toBe('string')
  }
})

test("owned_by comes from the engine serving the model", async () => {
  const owners = Object.fromEntries((await collect(client.models.list())).map((m) => [m.id, m.owned_by]))
  expect(owners['shared-model']).toBe('fake-owner')
  expect(owners['only-b']).toBe('fake-owner')
  expect(owners['mock-model']).toBe('sagellm-mock')
})

test('models.retrieve() finds a model whose id contains a slash', async () => {
  const model = await client.models.retrieve('org/name')
  expect(model.id).toBe('org/name')
  expect(model.object).toBe('model')
  expect(model.owned_by).toBe('fake-owner')
})

test('models.retrieve() returns the built-in mock model card', async () => {
  const model = await client.models.retrieve('mock-model')
  expect(model).toMatchObject({ id: 'mock-model', object: 'model', owned_by: 'sagellm-mock' })
})

test('an unencoded slash in the model path also finds the model', async () => {
  const res = await gw.fetch('/v1/models/org/name')
  expect(res.status).toBe(200)
  expect(((await res.json()) as { id: string }).id).toBe('org/name')
})

test('models.retrieve() of an unknown id throws NotFoundError with code model_not_found', async () => {
  const error = await client.models.retrieve('no-such/model').catch((e: unknown) => e)
  expect(error).toBeInstanceOf(NotFoundError)
  const notFound = error as NotFoundError
  expect(notFound.status).toBe(404)
  expect(notFound.code).toBe('model_not_found')
  expect(notFound.message).toContain('no-such/model')
})

test('without anthropic-version the list is exactly the OpenAI shape, {object, data} and no page fields', async () => {
  const body = (await (await gw.fetch('/v1/models')).json()) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['data', 'object'])
  const onlyB = (body.data as Record<string, unknown>[]).find((m) => m.id === 'only-b')
  expect(onlyB).toEqual({ id: 'only-b', object: 'model', created: 1_700_000_000, owned_by: 'fake-owner', max_model_len: 32_768 })
})

test("the Anthropic SDK's models.list() gets ModelInfo objects: type model, display_name, RFC 3339 created_at", async () => {
  const models = await collect(anthropic.models.list())
  expect(models.map((m) => m.id).sort()).toEqual(['mock-model', 'only-a', 'only-b', 'org/name', 'shared-model'])
  for (const m of models) {
    expect(m.type).toBe('model')
    expect(m.display_name).toBe(m.id)
    expect(m.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    expect(m.lifecycle).toBe('active')
  }
  const onlyB = models.find((m) => m.id === 'only-b')!
  expect(onlyB.created_at).toBe('2023-11-14T22:13:20.000Z')
  expect(onlyB.max_input_tokens).toBe(32_768)
  expect(models.find((m) => m.id === 'only-a')!.max_input_tokens).toBeNull()
})

test('with anthropic-version one page carries has_more, first_id and last_id', async () => {
  const page = await anthropic.models.list()
  expect(page.has_more).toBe(false)
  expect(page.first_id).toBe(page.data[0]!.id)
  expect(page.last_id).toBe(page.data.at(-1)!.id)
  const { data: raw, response } = await anthropic.models.list().withResponse()
  expect(raw.data).toHaveLength(5)
  expect(response.headers.get('request-id')).toBeTruthy()
})

test('the Anthropic SDK pages through with limit and after_id, and back with before_id', async () => {
  const all = (await anthropic.models.list()).data.map((m) => m.id)
  const first = await anthropic.models.list({ limit: 2 })
  expect(first.data.map((m) => m.id)).toEqual(all.slice(0, 2))
  expect(first.has_more).toBe(true)
  expect((await collect(anthropic.models.list({ limit: 2 }))).map((m) => m.id)).toEqual(all)
  const before = await anthropic.models.list({ limit: 2, before_id: all[4]! })
  expect(before.data.map((m) => m.id)).toEqual(all.slice(2, 4))
  expect(before.has_more).toBe(true)
})

test("the Anthropic SDK's models.retrieve() gets one ModelInfo, ids with slashes included", async () => {
  const model = await anthropic.models.retrieve('org/name')
  const card = await client.models.retrieve('org/name')
  expect(model).toMatchObject({ type: 'model', id: 'org/name', display_name: 'org/name', created_at: new Date(card.created * 1000).toISOString() })
  expect((model as unknown as Record<string, unknown>).object).toBeUndefined()
})

test('with anthropic-version an unknown model is NotFoundError not_found_error, in the Anthropic envelope on the wire', async () => {
  const error = await anthropic.models.retrieve('no-such/model').catch((e: unknown) => e)
  expect(error).toBeInstanceOf(AnthropicNotFoundError)
  expect((error as AnthropicNotFoundError).type).toBe('not_found_error')
  const res = await gw.fetch('/v1/models/no-such%2Fmodel', { headers: { 'anthropic-version': '2023-06-01' } })
  expect(await expectAnthropicError(res, 404, 'not_found_error')).toContain('no-such/model')
})

test('with anthropic-version a limit out of range is a 400 invalid_request_error naming it', async () => {
  const res = await gw.fetch('/v1/models?limit=0', { headers: { 'anthropic-version': '2023-06-01' } })
  expect(await expectAnthropicError(res, 400, 'invalid_request_error')).toContain("'limit'")
})
