// Sessions belong to the key that created them: another key gets 404 not_found on every route, as for
// a missing id (the two answers identical apart from the id), cannot continue, list, count, export,
// overwrite by import or clean them up; POST /sessions with a taken id is 409; the admin key sees all.
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { NotFoundError } from 'openai'
import { rejectionOf } from '../helpers/anthropic'
import type { TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { ADMIN_KEY, AuthFixtures, chatTurnAs, createKey, expectOpenAIError, sessionsAs, type CreatedKey } from '../helpers/auth'
import { importable, minutesAgo } from '../helpers/sessions-api'

const fixtures = new AuthFixtures()
afterEach(() => fixtures.cleanup())

let gw: TestGateway
let a: CreatedKey
let b: CreatedKey
let asA: ReturnType<typeof sessionsAs>
let asB: ReturnType<typeof sessionsAs>
let asAdmin: ReturnType<typeof sessionsAs>

/** A owns 'a-made' (POST /sessions) and 'a-chat' (a chat turn); B owns 'b-chat'. */
beforeEach(async () => {
  gw = await fixtures.mockGateway()
  a = await createKey(gw, { name: 'A' })
  b = await createKey(gw, { name: 'B' })
  ;[asA, asB, asAdmin] = [sessionsAs(gw, a.key), sessionsAs(gw, b.key), sessionsAs(gw, ADMIN_KEY)]
  expect((await asA.create({ session_id: 'a-made', title: 'A made this' })).status).toBe(200)
  await chatTurnAs(gw, a.key, 'a-chat', 'secret of A')
  await chatTurnAs(gw, b.key, 'b-chat', 'hello from B')
})

const ids = (sessions: { id: string }[]) => sessions.map((s) => s.id).sort()

/** Every single-session route, called by `api` on `id`. */
const everyRoute = (api: ReturnType<typeof sessionsAs>, id: string) => [
  ['GET', () => api.get(id)],
  ['GET messages', () => api.messages(id)],
  ['GET export', () => api.exportOne(id)],
  ['PATCH title', () => api.rename(id, 'Taken over')],
  ['POST clear', () => api.clear(id)],
  ['DELETE', () => api.remove(id)],
] as const

test("the owner reads its own sessions, made by POST /sessions and by a chat turn", async () => {
  expect((await readJson(await asA.get('a-made'))).metadata.title).toBe('A made this')
  expect((await readJson(await asA.get('a-chat'))).messages).toHaveLength(2)
})

for (const id of ['a-made', 'a-chat']) {
  test(`another key gets 404 not_found on every route of A's session ${id}, and it is left as it was`, async () => {
    const before = await readJson(await asA.get(id))
    for (const [route, call] of everyRoute(asB, id)) {
      const res = await call()
      expect({ route, status: res.status }).toEqual({ route, status: 404 })
      expect(await readJson(res)).toMatchObject({ error: { type: 'not_found_error', code: 'not_found' } })
    }
    expect(await readJson(await asA.get(id))).toEqual(before)
  })
}

test("the 404 for another key's session is identical to the 404 for no such session, apart from the id", async () => {
  for (const [[route, theirs], [, missing]] of everyRoute(asB, 'a-chat').map((r, i) => [r, everyRoute(asB, 'no-such')[i]!] as const)) {
    const [t, m] = [await theirs(), await missing()]
    expect({ route, status: t.status }).toEqual({ route, status: m.status })
    expect({ route, body: (await t.text()).replaceAll('a-chat', '<id>') }).toEqual({ route, body: (await m.text()).replaceAll('no-such', '<id>') })
  }
})

test("a chat turn by another key on A's session id is 404 not_found and adds nothing to it", async () => {
  const error = await rejectionOf(chatTurnAs(gw, b.key, 'a-chat', 'let me in'))
  expect(error).toBeInstanceOf(NotFoundError)
  expect(error).toMatchObject({ status: 404, code: 'not_found' })
  const session = await readJson(await asA.get('a-chat'))
  expect(session.messages.map((m: { content: string }) => m.content)).not.toContain('let me in')
  expect(session.messages).toHaveLength(2)
})

test('the owner continues its own session by a chat turn', async () => {
  await chatTurnAs(gw, a.key, 'a-chat', 'second turn')
  expect((await readJson(await asA.get('a-chat'))).messages).toHaveLength(4)
})

test("GET /sessions lists only the caller's sessions and its stats count only the caller's", async () => {
  const ofB = await readJson(await asB.list())
  expect(ids(ofB.sessions)).toEqual(['b-chat'])
  expect(ofB.stats).toEqual({ total_sessions: 1, total_messages: 2 })
  const ofA = await readJson(await asA.list())
  expect(ids(ofA.sessions)).toEqual(['a-chat', 'a-made'])
  expect(ofA.stats).toEqual({ total_sessions: 2, total_messages: 2 })
})

test("GET /sessions/export by another key holds none of A's sessions or messages", async () => {
  const text = await (await asB.exportAll()).text()
  expect(ids(JSON.parse(text).sessions)).toEqual(['b-chat'])
  expect(text).not.toContain('secret of A')
})

test('the admin key lists, reads and exports every session', async () => {
  const listed = await readJson(await asAdmin.list())
  expect(ids(listed.sessions)).toEqual(['a-chat', 'a-made', 'b-chat'])
  expect(listed.stats).toEqual({ total_sessions: 3, total_messages: 4 })
  expect((await asAdmin.get('a-chat')).status).toBe(200)
  expect(ids((await readJson(await asAdmin.exportAll())).sessions)).toEqual(['a-chat', 'a-made', 'b-chat'])
})

test("POST /sessions by another key with A's session id is 409 conflict, as for any taken id", async () => {
  await expectOpenAIError(await asB.create({ session_id: 'a-made', title: 'Mine now' }), 409, { code: 'conflict' })
  expect((await readJson(await asA.get('a-made'))).metadata.title).toBe('A made this')
})

for (const query of ['', '?overwrite=true']) {
  test(`import${query} by another key of A's session id reports it skipped and leaves A's data unchanged`, async () => {
    const before = await readJson(await asA.get('a-chat'))
    const res = await asB.import([importable('a-chat', minutesAgo(1), 6, 'Hijacked'), importable('b-new', minutesAgo(1), 2)], query)
    expect(res.status).toBe(200)
    expect(await readJson(res)).toMatchObject({ imported: 1, skipped: 1 })
    expect(await readJson(await asA.get('a-chat'))).toEqual(before)
    expect((await asB.get('a-chat')).status).toBe(404)
    expect((await asB.get('b-new')).status).toBe(200)
  })
}

test('import makes the importing key the owner', async () => {
  await asB.import(importable('b-imported', minutesAgo(1), 2))
  expect((await asB.get('b-imported')).status).toBe(200)
  expect((await asA.get('b-imported')).status).toBe(404)
})

test("cleanup by a non-admin key removes only that key's idle sessions", async () => {
  await asA.import(importable('a-idle', minutesAgo(600), 2))
  await asB.import(importable('b-idle', minutesAgo(600), 2))
  const res = await asB.cleanup('?max_age_minutes=60')
  expect(res.status).toBe(200)
  expect(await readJson(res)).toMatchObject({ removed: 1, session_ids: ['b-idle'] })
  expect((await asA.get('a-idle')).status).toBe(200)
  expect((await asB.get('b-idle')).status).toBe(404)
})

test('the sessions routes need a key when auth is on', async () => {
  await expectOpenAIError(await sessionsAs(gw, undefined).list(), 401, { code: 'invalid_api_key' })
  await expectOpenAIError(await sessionsAs(gw, undefined).get('a-chat'), 401, { code: 'invalid_api_key' })
})
