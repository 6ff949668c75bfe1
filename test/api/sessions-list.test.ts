// GET /sessions and GET /sessions/{id}/messages: summaries newest activity first with totals, cursor
// paging that visits every row once (ties on last_active broken by id), and 400s naming a bad limit or cursor.
import { afterEach, expect, test } from 'bun:test'
import { readJson } from '../helpers/http'
import { chatTurn, errorOf, Gateways, importable, type SessionsClient } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(() => gateways.cleanup())

/** Follows next_cursor from the first page to the last; each page's ids, in order. */
async function walkSessions(api: SessionsClient, limit: number): Promise<string[][]> {
  const pages: string[][] = []
  let cursor: string | null = null
  do {
    const body: any = await readJson(await api.list(`?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`))
    pages.push(body.sessions.map((s: { id: string }) => s.id))
    cursor = body.next_cursor
  } while (cursor !== null && pages.length < 50)
  return pages
}

test('GET /sessions lists summaries most recently active first, with totals and a null next_cursor', async () => {
  const { gw, api } = await gateways.start()
  await api.import([importable('old', '2024-01-01T00:00:00.000Z', 3), importable('mid', '2024-06-01T00:00:00.000Z', 1)])
  await chatTurn(gw, 'new', 'Newest conversation')
  const body = await readJson(await api.list())
  expect(body.sessions.map((s: { id: string }) => s.id)).toEqual(['new', 'mid', 'old'])
  expect(body.sessions[2]).toEqual({
    id: 'old',
    title: 'Title of old',
    created_at: '2024-01-01T00:00:00.000Z',
    last_active: '2024-01-01T00:00:00.000Z',
    message_count: 3,
  })
  expect(body.sessions[0]).toMatchObject({ id: 'new', title: 'Newest conversation', message_count: 2 })
  expect(body.stats).toEqual({ total_sessions: 3, total_messages: 6 })
  expect(body.next_cursor).toBeNull()
})

test('a chat turn moves its session to the front of the list', async () => {
  const { gw, api } = await gateways.start()
  await api.import([importable('a', '2024-01-01T00:00:00.000Z'), importable('b', '2024-01-02T00:00:00.000Z')])
  await chatTurn(gw, 'a', 'back again')
  const body = await readJson(await api.list())
  expect(body.sessions.map((s: { id: string }) => s.id)).toEqual(['a', 'b'])
})

test('paging with limit visits every session once, newest first, and the last page has next_cursor null', async () => {
  const { api } = await gateways.start()
  const days = ['01', '02', '03', '04', '05']
  await api.import(days.map((d) => importable(`s${d}`, `2024-03-${d}T12:00:00.000Z`)))
  expect(await walkSessions(api, 2)).toEqual([['s05', 's04'], ['s03', 's02'], ['s01']])
})

test('a page ending exactly at the last session has next_cursor null (no empty page after it)', async () => {
  const { api } = await gateways.start()
  await api.import([importable('x', '2024-03-01T00:00:00.000Z'), importable('y', '2024-03-02T00:00:00.000Z')])
  const pages = await walkSessions(api, 1)
  expect(pages).toEqual([['y'], ['x']])
})

test('sessions with the same last_active are paged by id, descending, without skipping or repeating any', async () => {
  const { api } = await gateways.start()
  const same = '2024-05-05T05:05:05.000Z'
  await api.import(['a', 'e', 'c', 'b', 'd'].map((id) => importable(id, same)))
  await api.import([importable('later', '2024-05-06T00:00:00.000Z')])
  expect(await walkSessions(api, 2)).toEqual([['later', 'e'], ['d', 'c'], ['b', 'a']])
})

test('GET /sessions defaults to 50 per page', async () => {
  const { api } = await gateways.start()
  await api.import(Array.from({ length: 51 }, (_, i) => importable(`s${String(i).padStart(2, '0')}`, '2024-01-01T00:00:00.000Z')))
  const body = await readJson(await api.list())
  expect(body.sessions).toHaveLength(50)
  expect(body.next_cursor).toEqual(expect.any(String))
  expect(body.stats.total_sessions).toBe(51)
})

test('GET /sessions accepts limit 1 and 500', async () => {
  const { api } = await gateways.start()
  await api.import([importable('only', '2024-01-01T00:00:00.000Z')])
  expect((await api.list('?limit=1')).status).toBe(200)
  expect((await api.list('?limit=500')).status).toBe(200)
})

test('GET /sessions with a non-numeric limit is 400 naming limit', async () => {
  const { api } = await gateways.start()
  const res = await api.list('?limit=abc')
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'limit' })
})

test('GET /sessions with a limit outside 1..500 is 400 naming limit', async () => {
  const { api } = await gateways.start()
  for (const limit of ['0', '501', '2.5']) {
    const res = await api.list(`?limit=${limit}`)
    expect(res.status).toBe(400)
    expect({ limit, param: (await errorOf(res)).param }).toEqual({ limit, param: 'limit' })
  }
})

test('GET /sessions with a cursor it never issued is 400 naming cursor', async () => {
  const { api } = await gateways.start()
  const foreign = Buffer.from(JSON.stringify({ seq: 3 })).toString('base64url')
  for (const cursor of ['not-a-cursor', foreign]) {
    const res = await api.list(`?cursor=${cursor}`)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'cursor' })
  }
})

test('GET /sessions/{id}/messages pages the messages oldest first', async () => {
  const { api } = await gateways.start()
  await api.import(importable('m', '2024-01-01T00:00:00.000Z', 5))
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const body: any = await readJson(await api.messages('m', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`))
    expect(Object.keys(body).sort()).toEqual(['messages', 'next_cursor'])
    seen.push(...body.messages.map((message: { content: string }) => message.content))
    cursor = body.next_cursor
    pages++
  } while (cursor !== null && pages < 10)
  expect(pages).toBe(3)
  expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `m message ${i}`))
})

test('GET /sessions/{id}/messages refuses a session-list cursor, naming cursor', async () => {
  const { api } = await gateways.start()
  await api.import([importable('m', '2024-01-01T00:00:00.000Z', 2), importable('n', '2024-01-02T00:00:00.000Z')])
  const { next_cursor } = await readJson(await api.list('?limit=1'))
  const res = await api.messages('m', `?cursor=${next_cursor}`)
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', param: 'cursor' })
})
