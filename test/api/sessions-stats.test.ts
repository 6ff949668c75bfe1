// The session totals /health reports (kept in a one-row table by triggers) stay equal to the rows
// that exist through every kind of write, and sessions outlive a gateway restart on the same SQLite file.
import { afterEach, expect, test } from 'bun:test'
import type { TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { chatTurn, countedTotals, Gateways, healthTotals, importable, minutesAgo, type SessionsClient } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(() => gateways.cleanup())

/** /health's counters, after checking they agree with the rows an export holds. */
async function totals(gw: TestGateway, api: SessionsClient) {
  const reported = await healthTotals(gw)
  expect(reported).toEqual(await countedTotals(api))
  return reported
}

test('/health reports zero sessions and messages on a fresh gateway', async () => {
  const { gw, api } = await gateways.start()
  const health = await readJson(await gw.fetch('/health'))
  expect(health.status).toBe('healthy')
  expect(await totals(gw, api)).toEqual({ total_sessions: 0, total_messages: 0 })
})

test('the counters follow create, chat turns, clear and delete exactly', async () => {
  const { gw, api } = await gateways.start()
  await api.create({ session_id: 'a' })
  expect(await totals(gw, api)).toEqual({ total_sessions: 1, total_messages: 0 })
  await chatTurn(gw, 'a', 'one')
  await chatTurn(gw, 'a', 'two')
  await chatTurn(gw, 'b', 'three')
  expect(await totals(gw, api)).toEqual({ total_sessions: 2, total_messages: 6 })
  await api.clear('a')
  expect(await totals(gw, api)).toEqual({ total_sessions: 2, total_messages: 2 })
  await api.remove('b')
  expect(await totals(gw, api)).toEqual({ total_sessions: 1, total_messages: 0 })
})

test('the counters follow imports, skipped imports, overwrites and cleanup exactly', async () => {
  const { gw, api } = await gateways.start()
  await api.import([importable('x', minutesAgo(500), 4), importable('y', minutesAgo(5), 3)])
  expect(await totals(gw, api)).toEqual({ total_sessions: 2, total_messages: 7 })
  await api.import(importable('x', minutesAgo(500), 9))
  expect(await totals(gw, api)).toEqual({ total_sessions: 2, total_messages: 7 })
  await api.import([importable('x', minutesAgo(500), 1), importable('z', minutesAgo(600), 2)], '?overwrite=true')
  expect(await totals(gw, api)).toEqual({ total_sessions: 3, total_messages: 6 })
  await api.cleanup('?max_age_minutes=60')
  expect(await totals(gw, api)).toEqual({ total_sessions: 1, total_messages: 3 })
})

test('a rejected import leaves the counters where they were', async () => {
  const { gw, api } = await gateways.start()
  await api.import(importable('kept', minutesAgo(1), 2))
  const res = await api.import([importable('kept', minutesAgo(1), 5), { id: 'bad', messages: 'nope' }], '?overwrite=true')
  expect(res.status).toBe(400)
  expect(await totals(gw, api)).toEqual({ total_sessions: 1, total_messages: 2 })
})

test("GET /sessions' stats and message_count agree with /health", async () => {
  const { gw, api } = await gateways.start()
  await api.import([importable('p', minutesAgo(3), 3), importable('q', minutesAgo(2), 1)])
  await chatTurn(gw, 'q', 'more')
  const list = await readJson(await api.list())
  expect(list.stats).toEqual(await healthTotals(gw))
  expect(list.sessions.reduce((n: number, s: { message_count: number }) => n + s.message_count, 0)).toBe(list.stats.total_messages)
})

test('sessions, messages and counters survive a gateway restart on the same SQLite file', async () => {
  const db = gateways.dbPath()
  const first = await gateways.start(['--db', db])
  await chatTurn(first.gw, 'durable', 'Remember me')
  await first.api.create({ session_id: 'titled', title: 'Kept title', metadata: { k: 'v' } })
  await first.api.import(importable('imported', '2024-01-01T00:00:00.000Z', 2))
  const before = (await readJson(await first.api.exportAll())).sessions
  const counters = await healthTotals(first.gw)
  await first.gw.stop()

  const second = await gateways.start(['--db', db])
  expect((await readJson(await second.api.exportAll())).sessions).toEqual(before)
  expect(await totals(second.gw, second.api)).toEqual(counters)
  expect(counters).toEqual({ total_sessions: 3, total_messages: 4 })
})

test('a restarted gateway continues a stored conversation where it left off', async () => {
  const db = gateways.dbPath()
  const first = await gateways.start(['--db', db])
  await chatTurn(first.gw, 'resume', 'First turn')
  await first.gw.stop()

  const second = await gateways.start(['--db', db])
  await chatTurn(second.gw, 'resume', 'Second turn')
  const session = await readJson(await second.api.get('resume'))
  expect(session.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
  expect(session.metadata.title).toBe('First turn')
})
