// GET /v1/models and /v1/models/{id} through the official OpenAI SDK: one entry per model however
// many engines serve it, each engine's own card, ids with slashes, and 404 for unknown ids.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import OpenAI, { NotFoundError } from 'openai'
import { startFakeEngine, type FakeEngine } from '../../helpers/fake-engine'
import { startGateway, type TestGateway } from '../../helpers/gateway'
import { collect } from '../../helpers/sse-client'

let engineA: FakeEngine
let engineB: FakeEngine
let gw: TestGateway
let client: OpenAI

beforeAll(async () => {
  engineA = await startFakeEngine({ models: ['shared-model', 'org/name', 'only-a'] })
  engineB = await startFakeEngine({ models: ['shared-model', 'org/name', 'only-b'] })
  gw = await startGateway(['--mock', '--mock-model', 'mock-model', '--engine', engineA.url, '--engine', engineB.url])
  client = gw.openai()
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
