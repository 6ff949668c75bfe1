// The management API against real loopback engines: registering (routable at once), reading,
// changing and removing engines, draining in-flight streams, pruning, status, body errors and auth.
import { afterEach, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'
import { assembleGateway } from '../../src/gateway'
import { silentLogger } from '../../src/telemetry/logger'
import { readJson } from '../helpers/http'
import { errorOf, holdInference, listedIds, managementFixtures, modelIds, openChatStream, registered, stateOf } from '../helpers/management-api'
import { waitFor } from '../helpers/wait'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})
const { fakeEngine, gateway, configuredGateway, oneEngine } = managementFixtures(cleanup)

test('GET /v1/management names the service, its status and endpoints', async () => {
  const { gw } = await gateway()
  const body = await readJson(await gw.fetch('/v1/management'))
  expect(body).toMatchObject({ status: 'running', endpoints: { register: 'POST /v1/management/engines/register', status: 'GET /v1/management/status' } })
  expect(typeof body.service).toBe('string')
})

test.each(['GET', 'PATCH', 'DELETE'])('%s of an unknown engine_id is 404 not_found in the OpenAI envelope', async (method) => {
  const { gw } = await gateway()
  const res = await gw.fetch('/v1/management/engines/nope', { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' })
  expect(res.status).toBe(404)
  expect(await errorOf(res)).toMatchObject({ type: 'not_found_error', code: 'not_found', param: 'engine_id' })
})

test('a live engine registered by URL is READY in the register answer and its models are routable at once', async () => {
  const engine = await fakeEngine(['m1', 'm2'])
  const { gw, api } = await gateway()
  const body = await registered(api, { engine_id: 'e1', url: engine.url, weight: 2, max_concurrency: 8, metadata: { rack: 'r1' } })
  expect(body).toMatchObject({
    engine_id: 'e1', host: '127.0.0.1', port: engine.port, endpoint: `http://127.0.0.1:${engine.port}`, base_url: engine.url, state: 'READY', is_healthy: true,
    engine_kind: 'llm', models: ['m1', 'm2'], weight: 2, max_concurrency: 8, active_requests: 0, consecutive_failures: 0, metadata: { rack: 'r1' },
  })
  expect(Date.parse(body.created_at)).not.toBeNaN()
  expect(Date.parse(body.last_heartbeat)).not.toBeNaN()
  const reply = await gw.openai().chat.completions.create({ model: 'm2', messages: [{ role: 'user', content: 'hello' }] })
  expect(reply.choices[0]!.message.content).toContain('You said')
  expect(engine.inference()).toHaveLength(1)
})

test('an engine given as host and port is registered with the id host:port', async () => {
  const engine = await fakeEngine()
  const { api } = await gateway()
  const body = await registered(api, { host: '127.0.0.1', port: engine.port })
  expect(body).toMatchObject({ engine_id: `127.0.0.1:${engine.port}`, base_url: engine.url, state: 'READY' })
})

test('a registered engine is shown by GET /engines, GET /engines/{id} and /health', async () => {
  const { engine, gw, api } = await oneEngine()
  const list = await readJson(await api.engines())
  expect(list.count).toBe(1)
  expect(list.engines[0]).toMatchObject({ engine_id: 'e1', state: 'READY' })
  expect(await readJson(await api.engine('e1'))).toMatchObject({ engine_id: 'e1', base_url: engine.url })
  const health = await readJson(await gw.fetch('/health'))
  expect(health.engines.map((e: { engine_id: string }) => e.engine_id)).toEqual(['e1'])
})

test('registering an engine_id twice is 409 conflict', async () => {
  const [a, b] = [await fakeEngine(), await fakeEngine()]
  const { api } = await gateway()
  await registered(api, { engine_id: 'same', url: a.url })
  const res = await api.register({ engine_id: 'same', url: b.url })
  expect(res.status).toBe(409)
  expect(await errorOf(res)).toMatchObject({ code: 'conflict', param: 'engine_id' })
  expect(await listedIds(api)).toEqual(['same'])
})

test('registering a URL already registered under another id is 409, however the URL is spelled', async () => {
  const engine = await fakeEngine()
  const { api } = await gateway()
  await registered(api, { engine_id: 'first', url: engine.url })
  const res = await api.register({ engine_id: 'second', url: `http://127.0.0.1:${engine.port}/` })
  expect(res.status).toBe(409)
  expect((await errorOf(res)).code).toBe('conflict')
  expect(await listedIds(api)).toEqual(['first'])
})

test.each([
  ['neither url nor host and port', {}, 'host'],
  ['a host without a port', { host: '127.0.0.1' }, 'port'],
  ['both url and host and port', { url: 'http://127.0.0.1:9/v1', host: '127.0.0.1', port: 9 }, 'url'],
  ['a URL that is not http(s)', { url: 'ftp://127.0.0.1:9/v1' }, 'url'],
  ['weight 0', { url: 'http://127.0.0.1:9/v1', weight: 0 }, 'weight'],
  ['a negative weight', { url: 'http://127.0.0.1:9/v1', weight: -1 }, 'weight'],
  ['max_concurrency 0', { url: 'http://127.0.0.1:9/v1', max_concurrency: 0 }, 'max_concurrency'],
  ['an unknown field', { url: 'http://127.0.0.1:9/v1', colour: 'blue' }, 'colour'],
])('registering with %s is 400 invalid_request_error naming the field, and registers nothing', async (_, body, param) => {
  const { api } = await gateway()
  const res = await api.register(body)
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param })
  expect(await listedIds(api)).toEqual([])
})

test('PATCH changes weight and max_concurrency and merges metadata into what was there', async () => {
  const { api } = await oneEngine({ metadata: { rack: 'r1', gpu: 'a100' } })
  const res = await api.patch('e1', { weight: 3.5, max_concurrency: 2, metadata: { gpu: 'h100', zone: 'z' } })
  expect(res.status).toBe(200)
  expect(await readJson(res)).toMatchObject({ weight: 3.5, max_concurrency: 2, metadata: { rack: 'r1', gpu: 'h100', zone: 'z' }, state: 'READY' })
})

test('a PATCH with a misspelt field is 400 naming it, not silently ignored', async () => {
  const { api } = await oneEngine({ weight: 1 })
  const res = await api.patch('e1', { wieght: 5 })
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'wieght' })
})

test('PATCH max_concurrency null lifts the limit', async () => {
  const { api } = await oneEngine({ max_concurrency: 4 })
  expect((await readJson(await api.patch('e1', { max_concurrency: null }))).max_concurrency).toBeNull()
})

test('PATCH DRAINING with a stream in flight: DRAINING while it streams, STOPPED after, and the stream ends with [DONE]', async () => {
  const { engine, gw, api } = await oneEngine()
  const held = holdInference(engine)
  const stream = await openChatStream(gw, 'm')
  expect(await readJson(await api.patch('e1', { state: 'DRAINING' }))).toMatchObject({ state: 'DRAINING', is_healthy: false, active_requests: 1 })
  held.release()
  const text = await stream.rest()
  expect(text).toContain('last')
  expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true)
  await waitFor(async () => (await stateOf(api, 'e1')) === 'STOPPED', 3000, 'e1 to stop')
})

test('a DRAINING engine gets no new requests: they go to the other engine serving the model', async () => {
  const [a, b] = [await fakeEngine(), await fakeEngine()]
  const { gw, api } = await gateway()
  await registered(api, { engine_id: 'a', url: a.url })
  await registered(api, { engine_id: 'b', url: b.url })
  const held = holdInference(a)
  b.override = a.override
  const stream = await openChatStream(gw, 'm')
  const busy = a.inference().length === 1 ? 'a' : 'b'
  const [busyEngine, other] = busy === 'a' ? [a, b] : [b, a]
  await api.patch(busy, { state: 'DRAINING' })
  other.override = undefined
  for (let i = 0; i < 3; i++) await gw.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
  expect(busyEngine.inference()).toHaveLength(1)
  expect(other.inference()).toHaveLength(3)
  held.release()
  await stream.rest()
})

test('PATCH READY re-admits a STOPPED engine after a health check', async () => {
  const { gw, api } = await oneEngine()
  expect((await readJson(await api.patch('e1', { state: 'DRAINING' }))).state).toBe('STOPPED')
  expect(await modelIds(gw)).toEqual([])
  expect((await readJson(await api.patch('e1', { state: 'READY' }))).state).toBe('READY')
  expect(await modelIds(gw)).toEqual(['m'])
})

test('PATCH READY is 409 when the engine fails its health check', async () => {
  const { engine, api } = await oneEngine()
  await api.patch('e1', { state: 'DRAINING' })
  await engine.stop()
  const res = await api.patch('e1', { state: 'READY' })
  expect(res.status).toBe(409)
  expect(await errorOf(res)).toMatchObject({ code: 'unavailable', param: 'state' })
  expect(await stateOf(api, 'e1')).not.toBe('READY')
})

test('DELETE waits for the stream in flight, which completes, and answers drained: true after it', async () => {
  const { engine, gw, api } = await oneEngine()
  const held = holdInference(engine)
  const stream = await openChatStream(gw, 'm')
  let releasedWhenAnswered: boolean | undefined
  const removal = api.remove('e1').then((res) => ((releasedWhenAnswered = held.released), res))
  await waitFor(async () => (await stateOf(api, 'e1')) === 'DRAINING', 3000, 'e1 to drain')
  held.release()
  expect((await stream.rest()).trimEnd().endsWith('data: [DONE]')).toBe(true)
  const res = await removal
  expect(releasedWhenAnswered).toBe(true)
  expect(await readJson(res)).toEqual({ engine_id: 'e1', stopped: true, drained: true })
})

test('DELETE ?drain=false answers while a stream is still in flight, with drained: false, and the stream still ends', async () => {
  const { engine, gw, api } = await oneEngine()
  const held = holdInference(engine)
  const stream = await openChatStream(gw, 'm')
  expect(await readJson(await api.remove('e1', '?drain=false'))).toEqual({ engine_id: 'e1', stopped: true, drained: false })
  expect(held.released).toBe(false)
  held.release()
  expect((await stream.rest()).trimEnd().endsWith('data: [DONE]')).toBe(true)
})

test('a removed engine is no longer listed, and its models leave /v1/models unless another engine serves them', async () => {
  const [a, b] = [await fakeEngine(['shared', 'only-a']), await fakeEngine(['shared'])]
  const { gw, api } = await gateway()
  await registered(api, { engine_id: 'a', url: a.url })
  await registered(api, { engine_id: 'b', url: b.url })
  expect((await api.remove('a')).status).toBe(200)
  expect(await listedIds(api)).toEqual(['b'])
  expect((await api.engine('a')).status).toBe(404)
  expect(await modelIds(gw)).toEqual(['shared'])
})

test('DELETE ?drain=False (as Python requests sends False) answers at once with drained: false', async () => {
  const { engine, gw, api } = await oneEngine()
  const held = holdInference(engine)
  const stream = await openChatStream(gw, 'm')
  expect(await readJson(await api.remove('e1', '?drain=False'))).toEqual({ engine_id: 'e1', stopped: true, drained: false })
  held.release()
  expect((await stream.rest()).trimEnd().endsWith('data: [DONE]')).toBe(true)
})

test('register takes null for its optional fields as not given (Python clients send None): model_id is then the discovered one', async () => {
  const engine = await fakeEngine(['m'])
  const { api } = await gateway()
  const { hostname, port } = new URL(engine.url)
  const res = await api.register({ engine_id: 'py', model_id: null, host: hostname, port: Number(port), engine_kind: null, metadata: null, weight: null, api: null, max_concurrency: null })
  expect(res.status).toBe(200)
  expect(await readJson(res)).toMatchObject({ engine_id: 'py', model_id: 'm', engine_kind: 'llm', api: 'openai', weight: 1, max_concurrency: null, metadata: {} })
})

test('DELETE with a drain value that is not true or false is 400', async () => {
  const { api } = await oneEngine()
  const res = await api.remove('e1', '?drain=maybe')
  expect(res.status).toBe(400)
  expect((await errorOf(res)).param).toBe('drain')
  expect(await listedIds(api)).toEqual(['e1'])
})

test('prune removes the STOPPED and ERROR engines and keeps the READY one', async () => {
  const [ready, failing, drained] = [await fakeEngine(), await fakeEngine(), await fakeEngine()]
  const { api } = await configuredGateway()
  for (const [id, e] of [['ready', ready], ['failing', failing], ['drained', drained]] as const) await registered(api, { engine_id: id, url: e.url })
  await api.patch('drained', { state: 'DRAINING' })
  await failing.stop()
  await waitFor(async () => (await stateOf(api, 'failing')) === 'ERROR', 3000, 'failing to be ERROR')
  const body = await readJson(await api.prune())
  expect({ removed: [...body.removed].sort(), count: body.count }).toEqual({ removed: ['drained', 'failing'], count: 2 })
  expect(await listedIds(api)).toEqual(['ready'])
})

test('status reports the configured policy and strategy, the instance counts and each engine load', async () => {
  const engine = await fakeEngine()
  const { gw, api } = await configuredGateway('routing:\n  strategy: round_robin\n  per_model:\n    m: random\nscheduling:\n  policy: priority\n')
  await registered(api, { engine_id: 'e1', url: engine.url, max_concurrency: 4 })
  const held = holdInference(engine)
  const stream = await openChatStream(gw, 'm')
  const body = await readJson(await api.status())
  expect(body.control_plane).toEqual({
    running: true, scheduling_policy: 'priority', routing_strategy: 'round_robin', routing_per_model: { m: 'random' },
    pending_requests: 0, running_requests: 1, registered_instances: 1, ready_instances: 1,
  })
  expect(body.engines).toHaveLength(1)
  expect(body.engines[0]).toMatchObject({ engine_id: 'e1', active_requests: 1, load: 0.25 })
  held.release()
  await stream.rest()
})

const ADMIN_KEY = 'admin-key-0123456789'

test.each([
  ['no Authorization header', undefined],
  ['a wrong key', 'wrong-key-0123456789'],
])('with an admin key configured, a mutating call with %s is 401 authentication_error', async (_, key) => {
  const engine = await fakeEngine()
  const { api } = await gateway(['--admin-key', ADMIN_KEY], key)
  // A bad body too: the key is checked before the body is validated.
  for (const res of [await api.register({ url: engine.url }), await api.register({ weight: -1 }), await api.prune(), await api.patch('x', {}), await api.remove('x')]) {
    expect(res.status).toBe(401)
    expect(await errorOf(res)).toMatchObject({ type: 'authentication_error', code: 'unauthenticated' })
  }
  expect(await listedIds(api)).toEqual([])
})

test('with an admin key configured, the right key may change the fleet and reads need no key', async () => {
  const engine = await fakeEngine()
  const { gw, api } = await gateway(['--admin-key', ADMIN_KEY], ADMIN_KEY)
  await registered(api, { engine_id: 'e1', url: engine.url })
  expect((await api.patch('e1', { weight: 2 })).status).toBe(200)
  for (const path of ['/v1/management', '/v1/management/engines', '/v1/management/engines/e1', '/v1/management/status'])
    expect((await gw.fetch(path)).status).toBe(200)
  expect((await api.remove('e1')).status).toBe(200)
})

test('with no admin key, a mutating call whose client address is unknown is refused 403 permission_error', async () => {
  const cli = loadConfig({ argv: ['--db', ':memory:'], env: {} })
  if (cli.action !== 'run') throw new Error('unexpected CLI action')
  const db = openDatabase(':memory:')
  cleanup.push(() => db.close())
  migrate(db)
  const { app } = assembleGateway({ config: cli.config, db, log: silentLogger })
  // (Elysia finds the path from character 11 on, so the host must not be as short as http://x.)
  const res = await app.handle(new Request('http://localhost/v1/management/engines/prune', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
  expect(res.status).toBe(403)
  expect(await errorOf(res)).toMatchObject({ type: 'permission_error', code: 'permission_denied' })
})

// What curl -X DELETE and curl -X POST send: no body and no content-type.
test('DELETE without a body removes the engine', async () => {
  const { gw, api } = await oneEngine()
  const res = await gw.fetch('/v1/management/engines/e1', { method: 'DELETE' })
  expect(res.status).toBe(200)
  expect(await listedIds(api)).toEqual([])
})

test('POST /engines/prune without a body prunes', async () => {
  const { gw, api } = await oneEngine()
  await api.patch('e1', { state: 'DRAINING' })
  const res = await gw.fetch('/v1/management/engines/prune', { method: 'POST' })
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ removed: ['e1'], count: 1 })
})
