// The /sessions API's single-session routes in the original gateway's shapes: create (with and
// without a body, conflicts), read, delete, clear and rename, and 404 in the OpenAI envelope for unknown ids.
import { afterEach, expect, test } from 'bun:test'
import { readJson } from '../helpers/http'
import { chatTurn, errorOf, Gateways } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(() => gateways.cleanup())

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

test('POST /sessions without a body creates an empty "New Chat" session under a UUID', async () => {
  const { api } = await gateways.start()
  const res = await api.create()
  expect(res.status).toBe(200)
  const session = await readJson(res)
  expect(Object.keys(session).sort()).toEqual(['created_at', 'id', 'last_active', 'messages', 'metadata'])
  expect(session.id).toMatch(UUID)
  expect(session.messages).toEqual([])
  expect(session.metadata).toEqual({ title: 'New Chat' })
  expect(session.created_at).toMatch(ISO)
  expect(session.last_active).toBe(session.created_at)
})

test('POST /sessions keeps the client id, title and metadata, with the title at metadata.title', async () => {
  const { api } = await gateways.start()
  const res = await api.create({ session_id: 'my-session.1', title: 'Planning', metadata: { project: 'apollo', tags: ['a', 'b'] } })
  expect(res.status).toBe(200)
  const session = await readJson(res)
  expect(session.id).toBe('my-session.1')
  expect(session.metadata).toEqual({ project: 'apollo', tags: ['a', 'b'], title: 'Planning' })
  expect(await readJson(await api.get('my-session.1'))).toEqual(session)
})

test('POST /sessions takes null fields as not given (Python clients send None): a "New Chat" under a UUID', async () => {
  const { api } = await gateways.start()
  const res = await api.create({ title: null, session_id: null, metadata: null })
  expect(res.status).toBe(200)
  const session = await readJson(res)
  expect(session.id).toMatch(UUID)
  expect(session.metadata).toEqual({ title: 'New Chat' })
})

test('POST /sessions with an id that exists is 409 conflict and leaves the session as it was', async () => {
  const { api } = await gateways.start()
  await api.create({ session_id: 's1', title: 'First' })
  const res = await api.create({ session_id: 's1', title: 'Second' })
  expect(res.status).toBe(409)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'conflict', param: 'session_id' })
  expect((await readJson(await api.get('s1'))).metadata.title).toBe('First')
})

test('POST /sessions refuses an empty title, naming the field', async () => {
  const { api } = await gateways.start()
  const res = await api.create({ title: '' })
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'title' })
})

test('POST /sessions with metadata that is not an object is 400 naming metadata, and creates nothing', async () => {
  const { gw, api } = await gateways.start()
  for (const metadata of ['tags', 5, ['a', 'b']]) {
    const res = await api.create({ session_id: 'odd', metadata })
    expect({ metadata, status: res.status, param: res.status === 400 ? (await errorOf(res)).param : null }).toEqual({ metadata, status: 400, param: 'metadata' })
  }
  expect((await readJson(await gw.fetch('/health'))).sessions.total_sessions).toBe(0)
})

test('GET /sessions/{id} shows messages with role, content, timestamp, metadata, and usage on assistant turns', async () => {
  const { gw, api } = await gateways.start()
  const reply = await chatTurn(gw, 'c1', 'What is SQLite?')
  const session = await readJson(await api.get('c1'))
  expect(session.messages).toHaveLength(2)
  const [user, assistant] = session.messages
  expect(user).toEqual({ role: 'user', content: 'What is SQLite?', timestamp: expect.stringMatching(ISO), metadata: {} })
  expect(assistant).toMatchObject({ role: 'assistant', content: reply.choices[0]!.message.content, timestamp: expect.stringMatching(ISO) })
  expect(assistant.metadata).toMatchObject({ engine_id: 'mock', model: 'mock', finish_reason: 'stop' })
  expect(assistant.usage).toEqual({ prompt_tokens: reply.usage!.prompt_tokens, completion_tokens: reply.usage!.completion_tokens })
})

test('every single-session route answers 404 not_found in the OpenAI envelope for an unknown id', async () => {
  const { gw, api } = await gateways.start()
  const answers = [
    await api.get('ghost'),
    await api.remove('ghost'),
    await api.clear('ghost'),
    await api.rename('ghost', 'Title'),
    await api.messages('ghost'),
    await api.exportOne('ghost'),
  ]
  for (const res of answers) {
    expect(res.status).toBe(404)
    const error = await errorOf(res)
    expect(error).toEqual({ message: expect.stringContaining('ghost'), type: 'not_found_error', param: 'session_id', code: 'not_found', retryable: false })
  }
  expect((await readJson(await gw.fetch('/health'))).sessions).toEqual({ total_sessions: 0, total_messages: 0 })
})

test('DELETE /sessions/{id} answers {status: "deleted", session_id} and the session is gone', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'd1', 'hello')
  const res = await api.remove('d1')
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ status: 'deleted', session_id: 'd1' })
  expect((await api.get('d1')).status).toBe(404)
  expect((await api.remove('d1')).status).toBe(404)
})

test('POST /sessions/{id}/clear removes the messages and keeps the session and its title', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'k1', 'Keep my title')
  const res = await api.clear('k1')
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ status: 'cleared', session_id: 'k1' })
  const session = await readJson(await api.get('k1'))
  expect(session.messages).toEqual([])
  expect(session.metadata.title).toBe('Keep my title')
})

test('PATCH /sessions/{id}/title answers {status: "updated", session_id, title} and renames the session', async () => {
  const { api } = await gateways.start()
  await api.create({ session_id: 't1' })
  const res = await api.rename('t1', 'Renamed')
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ status: 'updated', session_id: 't1', title: 'Renamed' })
  expect((await readJson(await api.get('t1'))).metadata.title).toBe('Renamed')
  expect((await readJson(await api.list())).sessions[0].title).toBe('Renamed')
})

test('PATCH /sessions/{id}/title without a title is 400 naming it', async () => {
  const { gw, api } = await gateways.start()
  await api.create({ session_id: 't2', title: 'Before' })
  const res = await gw.fetch('/sessions/t2/title', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{}' })
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'title' })
  expect((await readJson(await api.get('t2'))).metadata.title).toBe('Before')
})
