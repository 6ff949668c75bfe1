// Session ids from clients (body session_id, header x-session-id, POST /sessions session_id, path ids)
// must match ^[A-Za-z0-9._:-]{1,128}$: anything else is a 400 invalid_argument naming session_id,
// in Anthropic's envelope on /v1/messages, and never reaches the engine or the database.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectAnthropicError } from '../helpers/anthropic'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { chatBody, expectOpenAIError, user } from './hostile-fixtures'

let engine: FakeEngine
let gw: TestGateway

beforeAll(async () => {
  engine = await startFakeEngine({ models: ['fake-model'] })
  gw = await startGateway(['--engine', engine.url])
})
afterAll(async () => {
  await gw.stop()
  await engine.stop()
})

/** The 400 invalid_argument naming session_id; checks the engine was not called for it. */
async function expectSessionIdError(send: () => Promise<Response>): Promise<void> {
  const before = engine.inference().length
  const error = await expectOpenAIError(await send(), 400)
  expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument', param: 'session_id' })
  expect(engine.inference()).toHaveLength(before)
}

const totalSessions = async () => (await readJson(await gw.fetch('/health'))).sessions.total_sessions as number

test.each([
  ['a path traversal', '../../etc'],
  ['a space', 'a b'],
  ['129 characters', 'x'.repeat(129)],
  ['a NUL', 'a\u0000b'],
  ['an empty string', ''],
  ['non-ASCII letters', 'ünï'],
])('a chat body session_id with %s is a 400 naming session_id', async (_what, id) => {
  const sessions = await totalSessions()
  await expectSessionIdError(() => postJson(gw, '/v1/chat/completions', chatBody('fake-model', { session_id: id })))
  expect(await totalSessions()).toBe(sessions)
})

test.each([
  ['spaces', 'my session 1'],
  ['200 characters', 'y'.repeat(200)],
  ['a slash', 'a/b'],
  ['markup', '<script>'],
])('an x-session-id header with %s is a 400 naming session_id', async (_what, id) => {
  await expectSessionIdError(() => postJson(gw, '/v1/chat/completions', chatBody('fake-model'), { 'x-session-id': id }))
})

test('a session id of 128 allowed characters starts a session', async () => {
  const id = `Az09._:-${'q'.repeat(120)}`
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model'), { 'x-session-id': id })
  expect(res.status).toBe(200)
  expect((await gw.fetch(`/sessions/${encodeURIComponent(id)}`)).status).toBe(200)
})

test('POST /sessions with session_id "a b" is a 400 naming session_id and creates nothing', async () => {
  const sessions = await totalSessions()
  const error = await expectOpenAIError(await postJson(gw, '/sessions', { session_id: 'a b' }), 400)
  expect(error).toMatchObject({ code: 'invalid_argument', param: 'session_id' })
  expect(await totalSessions()).toBe(sessions)
})

test('GET /sessions/%00 is a 400 naming session_id', async () => {
  const error = await expectOpenAIError(await gw.fetch('/sessions/%00'), 400)
  expect(error).toMatchObject({ code: 'invalid_argument', param: 'session_id' })
})

test.each([
  ['GET', '/sessions/a%20b'],
  ['DELETE', '/sessions/a%20b'],
  ['GET', '/sessions/a%20b/messages'],
  ['GET', '/sessions/a%20b/export'],
  ['POST', '/sessions/a%20b/clear'],
  ['PATCH', '/sessions/a%20b/title'],
  ['GET', `/sessions/${'z'.repeat(129)}`],
  ['GET', '/sessions/%3Cscript%3E'],
])('%s %s is a 400 naming session_id', async (method, path) => {
  const body = method === 'PATCH' ? JSON.stringify({ title: 'New' }) : undefined
  const res = await gw.fetch(path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body })
  const error = await expectOpenAIError(res, 400)
  expect(error).toMatchObject({ code: 'invalid_argument', param: 'session_id' })
})

test("on /v1/messages an x-session-id with spaces is a 400 in Anthropic's envelope", async () => {
  const before = engine.inference().length
  const res = await postJson(gw, '/v1/messages', { model: 'fake-model', max_tokens: 16, messages: [user('hi')] }, { 'x-session-id': 'a b' })
  await expectAnthropicError(res, 400, 'invalid_request_error')
  expect(engine.inference()).toHaveLength(before)
})
