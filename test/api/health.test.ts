import { afterAll, beforeAll, expect, test } from 'bun:test'
import { VERSION } from '../../src/version'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'

let engine: FakeEngine
let gw: TestGateway
let empty: TestGateway

beforeAll(async () => {
  engine = await startFakeEngine({ models: ['a', 'b'] })
  gw = await startGateway(['--engine', engine.url, '--mock', '--mock-model', 'mock-x'])
  empty = await startGateway([])
})
afterAll(async () => {
  await gw.stop()
  await empty.stop()
  await engine.stop()
})

test('GET / names the service, its version and endpoints', async () => {
  const body = await readJson(await gw.fetch('/'))
  expect(body.service).toBe('sageLLM Gateway')
  expect(body.version).toBe(VERSION)
  expect(body.endpoints).toMatchObject({ health: '/health', models: '/v1/models', chat_completions: '/v1/chat/completions', embeddings: '/v1/embeddings' })
})

test('GET /health is healthy with session counts and each engine state', async () => {
  const res = await gw.fetch('/health')
  expect(res.status).toBe(200)
  const body = await readJson(res)
  expect(body.status).toBe('healthy')
  expect(body.sessions).toEqual({ total_sessions: 0, total_messages: 0 })
  const byId = Object.fromEntries(body.engines.map((e: { engine_id: string }) => [e.engine_id, e]))
  expect(byId.mock).toMatchObject({ state: 'READY', is_healthy: true, models: ['mock-x'] })
  expect(byId[`127.0.0.1:${engine.port}`]).toMatchObject({ url: engine.url, state: 'READY', models: ['a', 'b'], engine_kind: 'llm', active_requests: 0 })
})

test('GET /health stays healthy with zero engines', async () => {
  const body = await readJson(await empty.fetch('/health'))
  expect(body.status).toBe('healthy')
  expect(body.engines).toEqual([])
})

test('inference with no engine at all is a 503 that says none is configured', async () => {
  const res = await empty.fetch('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }) })
  expect(res.status).toBe(503)
  const body = await readJson(res)
  expect(body.error.code).toBe('unavailable')
  expect(body.error.message).toContain("'x'")
  expect(body.error.message).toContain('no engine is configured')
})

test('/swagger serves the docs page and /swagger/json documents every route', async () => {
  const page = await gw.fetch('/swagger')
  expect(page.status).toBe(200)
  expect(page.headers.get('content-type')).toContain('text/html')
  const spec = await readJson(await gw.fetch('/swagger/json'))
  const routes = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  for (const r of ['GET /', 'GET /health', 'GET /v1/models', 'POST /v1/chat/completions', 'POST /v1/completions', 'POST /v1/embeddings'])
    expect(routes).toContain(r)
  expect(spec.paths['/v1/chat/completions'].post.requestBody).toBeDefined()
})
