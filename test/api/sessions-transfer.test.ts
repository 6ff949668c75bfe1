// Export and import over HTTP: the export wrapper's shape, the three accepted import shapes, skip
// versus overwrite of existing ids, 400s naming the offending path with nothing written, and a round
// trip (export, delete, import) that restores every session exactly.
import { afterEach, expect, test } from 'bun:test'
import { readJson } from '../helpers/http'
import { chatTurn, countedTotals, errorOf, Gateways, healthTotals, importable } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(() => gateways.cleanup())

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** A session that exercises every stored field: tool calls and their result, usage, message and session metadata. */
const toolSession = {
  id: 'tools',
  created_at: '2024-02-01T10:00:00.000Z',
  last_active: '2024-02-01T10:05:00.000Z',
  metadata: { title: 'Weather lookup', project: 'demo', nested: { k: [1, 2] } },
  messages: [
    { role: 'system', content: 'Use tools', timestamp: '2024-02-01T10:00:00.000Z', metadata: {} },
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }], timestamp: '2024-02-01T10:01:00.000Z', metadata: { client: 'web' } },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
      timestamp: '2024-02-01T10:02:00.000Z',
      metadata: { engine_id: 'e1', finish_reason: 'tool_calls' },
      usage: { prompt_tokens: 30, completion_tokens: 12 },
    },
    { role: 'tool', tool_call_id: 'call_1', name: 'weather', content: '{"temp":21}', timestamp: '2024-02-01T10:03:00.000Z', metadata: {} },
    { role: 'assistant', content: 'It is 21 °C.', timestamp: '2024-02-01T10:04:00.000Z', metadata: {}, usage: { prompt_tokens: 50, completion_tokens: 8 } },
  ],
}

test('GET /sessions/export wraps every session with its messages as {version: "1.0", exported_at, sessions}', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'a', 'hi')
  await api.create({ session_id: 'b', title: 'Empty' })
  const body = await readJson(await api.exportAll())
  expect(Object.keys(body).sort()).toEqual(['exported_at', 'sessions', 'version'])
  expect(body.version).toBe('1.0')
  expect(body.exported_at).toMatch(ISO)
  expect(body.sessions.map((s: { id: string }) => s.id).sort()).toEqual(['a', 'b'])
  expect(body.sessions.find((s: { id: string }) => s.id === 'a')).toEqual(await readJson(await api.get('a')))
})

test('GET /sessions/{id}/export holds that one session in the same wrapper', async () => {
  const { api } = await gateways.start()
  await api.import([toolSession, importable('other', '2024-01-01T00:00:00.000Z', 2)])
  const body = await readJson(await api.exportOne('tools'))
  expect(body.version).toBe('1.0')
  expect(body.sessions).toEqual([await readJson(await api.get('tools'))])
})

test('export, delete everything, import: every session comes back identical', async () => {
  const { gw, api } = await gateways.start()
  await api.import(toolSession)
  await chatTurn(gw, 'live', 'A real turn with usage')
  await api.create({ session_id: 'meta', title: 'Tagged', metadata: { tags: ['x'] } })
  const before = (await readJson(await api.exportAll())).sessions
  for (const s of before) await api.remove(s.id)
  expect(await healthTotals(gw)).toEqual({ total_sessions: 0, total_messages: 0 })
  const res = await api.import({ version: '1.0', exported_at: new Date().toISOString(), sessions: before })
  expect(await readJson(res)).toEqual({ imported: 3, skipped: 0 })
  const after = (await readJson(await api.exportAll())).sessions
  expect(after).toEqual(before)
  expect(after.find((s: { id: string }) => s.id === 'tools')).toEqual(toolSession)
})

test('import accepts one session object', async () => {
  const { api } = await gateways.start()
  const res = await api.import(importable('single', '2024-01-01T00:00:00.000Z', 2))
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ imported: 1, skipped: 0 })
  expect((await readJson(await api.get('single'))).messages).toHaveLength(2)
})

test('import accepts a bare list of sessions', async () => {
  const { api } = await gateways.start()
  const res = await api.import([importable('l1', '2024-01-01T00:00:00.000Z'), importable('l2', '2024-01-02T00:00:00.000Z')])
  expect(await readJson(res)).toEqual({ imported: 2, skipped: 0 })
  expect((await readJson(await api.list())).sessions.map((s: { id: string }) => s.id)).toEqual(['l2', 'l1'])
})

test('import skips ids that exist and leaves them untouched unless overwrite=true', async () => {
  const { api } = await gateways.start()
  await api.import(importable('keep', '2024-01-01T00:00:00.000Z', 1, 'Original'))
  const res = await api.import([importable('keep', '2024-02-01T00:00:00.000Z', 4, 'Replacement'), importable('new', '2024-02-01T00:00:00.000Z')])
  expect(await readJson(res)).toEqual({ imported: 1, skipped: 1 })
  const kept = await readJson(await api.get('keep'))
  expect(kept.metadata.title).toBe('Original')
  expect(kept.messages).toHaveLength(1)
})

test('import with overwrite=false behaves like the default', async () => {
  const { api } = await gateways.start()
  await api.import(importable('keep', '2024-01-01T00:00:00.000Z', 1, 'Original'))
  const res = await api.import(importable('keep', '2024-02-01T00:00:00.000Z', 2, 'Replacement'), '?overwrite=false')
  expect(await readJson(res)).toEqual({ imported: 0, skipped: 1 })
  expect((await readJson(await api.get('keep'))).metadata.title).toBe('Original')
})

test('import with overwrite=true replaces an existing session and all its messages', async () => {
  const { gw, api } = await gateways.start()
  await api.import(importable('swap', '2024-01-01T00:00:00.000Z', 5, 'Original'))
  const replacement = importable('swap', '2024-02-01T00:00:00.000Z', 2, 'Replacement')
  const res = await api.import(replacement, '?overwrite=true')
  expect(await readJson(res)).toEqual({ imported: 1, skipped: 0 })
  expect(await readJson(await api.get('swap'))).toEqual(replacement)
  expect(await healthTotals(gw)).toEqual({ total_sessions: 1, total_messages: 2 })
})

test('an invalid message deep in the import is 400 naming its path, and nothing is imported', async () => {
  const { gw, api } = await gateways.start()
  const good = importable('good', '2024-01-01T00:00:00.000Z', 3)
  const bad = { ...importable('bad', '2024-01-01T00:00:00.000Z'), messages: [{ content: 'no role' }] }
  const res = await api.import({ version: '1.0', sessions: [good, bad] })
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument', param: 'sessions[1].messages[0].role' })
  expect((await api.get('good')).status).toBe(404)
  expect(await healthTotals(gw)).toEqual({ total_sessions: 0, total_messages: 0 })
})

test('a failed overwrite import leaves the existing sessions exactly as they were', async () => {
  const { api } = await gateways.start()
  await api.import(importable('stay', '2024-01-01T00:00:00.000Z', 2, 'Before'))
  const before = await readJson(await api.exportAll())
  const res = await api.import([importable('stay', '2024-03-01T00:00:00.000Z', 1, 'After'), { id: 'broken', created_at: 'yesterday' }], '?overwrite=true')
  expect(res.status).toBe(400)
  expect((await errorOf(res)).param).toBe('sessions[1].created_at')
  expect((await readJson(await api.exportAll())).sessions).toEqual(before.sessions)
})

test('the same id twice in one import is 400 naming the second one', async () => {
  const { api } = await gateways.start()
  const res = await api.import([importable('twin', '2024-01-01T00:00:00.000Z'), importable('other', '2024-01-01T00:00:00.000Z'), importable('twin', '2024-01-02T00:00:00.000Z')])
  expect(res.status).toBe(400)
  expect((await errorOf(res)).param).toBe('sessions[2].id')
  expect((await readJson(await api.list())).sessions).toEqual([])
})

test('an import body that is not JSON is a clear 400 invalid_json', async () => {
  const { api } = await gateways.start()
  const res = await api.import('{"sessions": [')
  expect(res.status).toBe(400)
  expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' })
})

test('an import body of the wrong kind (a number, an object with neither id nor sessions) is 400', async () => {
  const { api } = await gateways.start()
  for (const payload of [42, { version: '1.0' }, 'a string']) {
    const res = await api.import(JSON.stringify(payload))
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument' })
  }
})

// Python's requests sends True/False; FastAPI (the original) also reads yes/no, on/off, 1/0, in any case.
test.each([
  ['True', true],
  ['yes', true],
  ['ON', true],
  ['1', true],
  ['False', false],
  ['no', false],
  ['off', false],
  ['0', false],
])('overwrite=%s is read as %p: the existing session is replaced only when true', async (word, replaces) => {
  const { api } = await gateways.start()
  await api.import(importable('s', '2024-01-01T00:00:00.000Z', 1, 'Original'))
  const res = await api.import(importable('s', '2024-02-01T00:00:00.000Z', 2, 'Replacement'), `?overwrite=${word}`)
  expect(await readJson(res)).toEqual(replaces ? { imported: 1, skipped: 0 } : { imported: 0, skipped: 1 })
  expect((await readJson(await api.get('s'))).metadata.title).toBe(replaces ? 'Replacement' : 'Original')
})

test.each(['maybe', 'constructor'])('overwrite=%s is 400 naming overwrite, and nothing is imported', async (word) => {
  const { api } = await gateways.start()
  const res = await api.import(importable('x', '2024-01-01T00:00:00.000Z'), `?overwrite=${word}`)
  expect(res.status).toBe(400)
  expect((await errorOf(res)).param).toBe('overwrite')
  expect(await countedTotals(api)).toEqual({ total_sessions: 0, total_messages: 0 })
})
