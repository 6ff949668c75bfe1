// Health checks over a fleet of real loopback engines checked every 0.1 s: a stopped engine goes to
// ERROR and its models leave /v1/models only when no READY engine serves them, and it is READY and
// routed to again once restarted; a failing /health means ERROR even when /models works; an engine
// without /health is judged by /models; an embedding engine never gets chat requests.
import { afterEach, expect, test } from 'bun:test'
import { jsonResponse } from '../helpers/fake-engine'
import { ask, countsOf, engineStatus, Fleet, listedModels } from '../helpers/fleet'
import type { TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const FAST_HEALTH = { health: { interval_seconds: 0.1, timeout_seconds: 1, failure_threshold: 2 } }

/** e0 serves `shared` and `solo`, e1 and e2 only `shared`. */
const soloAndShared = () =>
  Promise.all([fleet.engine({ models: ['shared', 'solo'] }), fleet.engine({ models: ['shared'] }), fleet.engine({ models: ['shared'] })])

const stateOf = async (gw: TestGateway, id: string) => (await engineStatus(gw, id)).state
const untilState = (gw: TestGateway, id: string, state: string) =>
  waitFor(async () => (await stateOf(gw, id)) === state, 5000, `${id} to be ${state}`)

test('a stopped engine goes ERROR; only the model no READY engine serves leaves /v1/models', async () => {
  const engines = await soloAndShared()
  const gw = await fleet.gateway(engines, FAST_HEALTH)
  expect(await listedModels(gw)).toEqual(['shared', 'solo'])

  await engines[0]!.stop()
  await untilState(gw, 'e0', 'ERROR')
  expect(await listedModels(gw)).toEqual(['shared'])
  const error = await ask(gw, 'x', { model: 'solo' }).then(() => undefined, (e: unknown) => e as { status?: number; code?: string })
  expect(error?.status).toBe(503)
  expect(error?.code).toBe('unavailable')
  // ask() throws on any client error: the shared model is served by the others.
  for (let i = 0; i < 6; i++) await ask(gw, `r${i}`, { model: 'shared' })
  expect(countsOf(engines.slice(1))).toEqual([3, 3])
})

test('a restarted engine is READY again, its models return, and it takes traffic', async () => {
  const engines = await soloAndShared()
  const gw = await fleet.gateway(engines, FAST_HEALTH)
  await engines[0]!.stop()
  await untilState(gw, 'e0', 'ERROR')

  await engines[0]!.restart()
  await untilState(gw, 'e0', 'READY')
  expect(await listedModels(gw)).toEqual(['shared', 'solo'])
  for (let i = 0; i < 9; i++) await ask(gw, `r${i}`, { model: 'shared' })
  expect(countsOf(engines)).toEqual([3, 3, 3])
  await ask(gw, 'solo', { model: 'solo' })
  expect(engines[0]!.inference()).toHaveLength(4)
})

test('an engine whose /health answers 503 is ERROR and gets no traffic although its /models works', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, FAST_HEALTH)
  engines[0]!.override = (req) => (req.method === 'GET' && req.path === '/health' ? jsonResponse({ status: 'loading' }, 503) : undefined)
  await untilState(gw, 'e0', 'ERROR')
  expect((await engineStatus(gw, 'e0')).last_error).toContain('/health answered HTTP 503')
  // Its model list is still being fetched successfully all along.
  expect(engines[0]!.requests.filter((r) => r.method === 'GET' && r.path === '/v1/models').length).toBeGreaterThan(1)
  for (let i = 0; i < 6; i++) await ask(gw, `r${i}`)
  expect(countsOf(engines)).toEqual([0, 3, 3])

  engines[0]!.override = undefined
  await untilState(gw, 'e0', 'READY')
})

test('an engine without /health (404) is READY through its model list and takes traffic', async () => {
  const engines = await fleet.engines(3)
  engines[0]!.override = (req) => (req.method === 'GET' && req.path === '/health' ? new Response('Not Found', { status: 404 }) : undefined)
  const gw = await fleet.gateway(engines, FAST_HEALTH)
  expect(await stateOf(gw, 'e0')).toBe('READY')
  // Several check rounds later it is still READY.
  const checks = () => engines[0]!.requests.filter((r) => r.path === '/health').length
  await waitFor(() => checks() >= 3, 3000, 'three health checks')
  expect(await stateOf(gw, 'e0')).toBe('READY')
  for (let i = 0; i < 9; i++) await ask(gw, `r${i}`)
  expect(countsOf(engines)).toEqual([3, 3, 3])
})

test('an embedding engine serving the same model never gets chat requests, but does get embeddings', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, FAST_HEALTH, (i) => ({ engine_kind: i === 2 ? 'embedding' : 'llm' }))
  await untilState(gw, 'e2', 'READY')
  for (let i = 0; i < 12; i++) await ask(gw, `r${i}`)
  expect(countsOf(engines)).toEqual([6, 6, 0])

  const client = gw.openai()
  for (let i = 0; i < 6; i++) await client.embeddings.create({ model: 'm', input: `text ${i}` })
  const embeddingsTo = engines.map((e) => e.inference().filter((r) => r.path === '/v1/embeddings').length)
  expect(embeddingsTo[2]).toBeGreaterThan(0)
  expect(embeddingsTo.reduce((a, b) => a + b, 0)).toBe(6)
})
