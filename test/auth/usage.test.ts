// GET /v1/management/usage: one row per key, model, engine and UTC day with exact request, error and
// token counts equal to the usage the engine reported (read from the answers themselves), for whole
// and streamed OpenAI answers and Anthropic messages; the key/model/from/to filters; key ids of
// static keys, the admin key and open mode; 400 for a malformed date; admin only; flushed on shutdown;
// and, for the recorder alone, the UTC day of each request across midnight and a clock set back.
import { afterEach, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { spawnGateway, waitForModel } from '../helpers/gateway-process'
import type { TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { ADMIN_KEY, AuthFixtures, anthropicAs, bearer, chatAs, createKey, expectOpenAIError, keysApi, openaiAs, type CreatedKey } from '../helpers/auth'
import { UsageRecorder } from '../../src/auth/usage'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'

const fixtures = new AuthFixtures()
afterEach(() => fixtures.cleanup())

const STATIC_KEY = 'static-usage-key-0123456789'
const messages = [{ role: 'user' as const, content: 'Tell me something about SQLite' }]
const dayOf = (offsetDays = 0) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)

interface Tokens {
  input: number
  output: number
}

/** A whole chat answer to A, a streamed one with include_usage to A, a message to B: the tokens each key used. */
async function knownTraffic(gw: TestGateway, a: CreatedKey, b: CreatedKey): Promise<{ a: Tokens; b: Tokens }> {
  const whole = await openaiAs(gw, a.key).chat.completions.create({ model: 'mock', messages })
  const stream = await openaiAs(gw, a.key).chat.completions.create({ model: 'mock', messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } })
  let streamed: { prompt_tokens: number; completion_tokens: number } | undefined
  for await (const chunk of stream) if (chunk.usage) streamed = chunk.usage
  if (!whole.usage || !streamed) throw new Error('the engine reported no usage')
  const message = await anthropicAs(gw, b.key).messages.create({ model: 'mock', max_tokens: 16, messages })
  return {
    a: { input: whole.usage.prompt_tokens + streamed.prompt_tokens, output: whole.usage.completion_tokens + streamed.completion_tokens },
    b: { input: message.usage.input_tokens, output: message.usage.output_tokens },
  }
}

async function twoKeysWithTraffic() {
  const gw = await fixtures.mockGateway()
  const a = await createKey(gw, { name: 'A' })
  const b = await createKey(gw, { name: 'B' })
  const used = await knownTraffic(gw, a, b)
  const row = (key: CreatedKey, requests: number, t: Tokens) => ({
    key_id: key.id, key_name: key.name, model: 'mock', engine_id: 'mock', date: dayOf(), requests, errors: 0, input_tokens: t.input, output_tokens: t.output,
  })
  const rows = [row(a, 2, used.a), row(b, 1, used.b)].sort((x, y) => (x.key_id < y.key_id ? -1 : 1))
  return { gw, a, b, used, rows, usage: async (query = '') => readJson(await keysApi(gw).usage(query)) }
}

test('usage has one row per key, model, engine and day with exact counts and the tokens the engine reported', async () => {
  const { usage, rows, used } = await twoKeysWithTraffic()
  const body = await usage()
  expect(Object.keys(body).sort()).toEqual(['data', 'totals'])
  expect(body.data).toEqual(rows)
  expect(body.totals).toEqual({ requests: 3, errors: 0, input_tokens: used.a.input + used.b.input, output_tokens: used.a.output + used.b.output })
  expect(used.a.output).toBeGreaterThan(0)
})

test('?key= keeps the rows of that key only, with totals of those rows', async () => {
  const { usage, a, used } = await twoKeysWithTraffic()
  const body = await usage(`?key=${a.id}`)
  expect(body.data.map((r: { key_id: string }) => r.key_id)).toEqual([a.id])
  expect(body.totals).toEqual({ requests: 2, errors: 0, input_tokens: used.a.input, output_tokens: used.a.output })
})

test('?model= keeps the rows of that model only', async () => {
  const { usage, rows } = await twoKeysWithTraffic()
  expect((await usage('?model=mock')).data).toEqual(rows)
  expect(await usage('?model=other')).toEqual({ data: [], totals: { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0 } })
})

test('from and to are inclusive by day, as dates or ISO date-times', async () => {
  const { usage, rows } = await twoKeysWithTraffic()
  const today = dayOf()
  for (const query of [`?from=${today}&to=${today}`, `?from=${today}T23:59:59Z`, `?to=${today}T00:00:00Z`, `?from=${dayOf(-1)}&to=${dayOf(1)}`])
    expect({ query, data: (await usage(query)).data }).toEqual({ query, data: rows })
  for (const query of [`?from=${dayOf(1)}`, `?to=${dayOf(-1)}`]) expect({ query, data: (await usage(query)).data }).toEqual({ query, data: [] })
})

test.each(['from', 'to'])('a malformed %s is 400 naming it', async (param) => {
  const gw = await fixtures.mockGateway()
  for (const value of ['yesterday', '2024-13-45', '2024/01/01'])
    await expectOpenAIError(await keysApi(gw).usage(`?${param}=${value}`), 400, { type: 'invalid_request_error', param })
})

test('usage needs the admin key: 403 permission_denied for a virtual key, 401 without a key', async () => {
  const gw = await fixtures.mockGateway()
  const { key } = await createKey(gw)
  await expectOpenAIError(await keysApi(gw, key).usage(), 403, { code: 'permission_denied' })
  expect((await keysApi(gw, null).usage()).status).toBe(401)
})

test('an answer >= 400 to an authenticated inference request counts as a request and an error', async () => {
  const gw = await fixtures.mockGateway()
  const c = await createKey(gw, { name: 'C' })
  expect((await chatAs(gw, c.key, 'no-such-model')).status).toBe(404)
  expect((await readJson(await keysApi(gw).usage(`?key=${c.id}`))).totals).toMatchObject({ requests: 1, errors: 1 })
})

test('every refusal of an authenticated inference request counts: 403 model, 400 body, 400 header, 404 model', async () => {
  const gw = await fixtures.mockGateway()
  const e = await createKey(gw, { name: 'E', models: ['mock', 'other'] })
  expect((await chatAs(gw, e.key, 'third')).status).toBe(403)
  expect((await chatAs(gw, e.key, 'mock', { temperature: 'hot' })).status).toBe(400)
  expect((await chatAs(gw, e.key, 'mock', {}, { 'x-session-id': 'not a valid id' })).status).toBe(400)
  expect((await chatAs(gw, e.key, 'other')).status).toBe(404)
  const { data, totals } = await readJson(await keysApi(gw).usage(`?key=${e.id}`))
  expect(totals).toMatchObject({ requests: 4, errors: 4 })
  // Unknown models and unread bodies go under one row, so made-up names cannot grow the table.
  expect((data as { model: string; requests: number }[]).map((r) => [r.model, r.requests]).sort()).toEqual([['(unknown)', 3], ['third', 1]])
})

test('a request refused for its key counts for no key', async () => {
  const gw = await fixtures.mockGateway()
  await createKey(gw)
  expect((await chatAs(gw, 'sk-sgl-unknown-key-000000000000000000000000000000')).status).toBe(401)
  expect((await readJson(await keysApi(gw).usage())).totals.requests).toBe(0)
})

test('a static key is counted as static:<first 8 hex of its sha256>, the admin key as admin', async () => {
  const gw = await fixtures.mockGateway(['--api-key', STATIC_KEY])
  expect((await chatAs(gw, STATIC_KEY)).status).toBe(200)
  expect((await chatAs(gw, ADMIN_KEY)).status).toBe(200)
  const staticId = `static:${createHash('sha256').update(STATIC_KEY).digest('hex').slice(0, 8)}`
  const data = (await readJson(await keysApi(gw).usage())).data as { key_id: string; requests: number }[]
  expect(data.map((r) => [r.key_id, r.requests]).sort()).toEqual([['admin', 1], [staticId, 1]].sort())
})

test('in open mode a request without a key is counted as anonymous', async () => {
  const gw = await fixtures.mockGateway()
  expect((await chatAs(gw, undefined)).status).toBe(200)
  const data = (await readJson(await keysApi(gw).usage())).data
  expect(data).toHaveLength(1)
  expect(data[0]).toMatchObject({ key_id: 'anonymous', model: 'mock', engine_id: 'mock', requests: 1, errors: 0 })
})

test('every request of a burst is counted', async () => {
  const gw = await fixtures.mockGateway()
  const a = await createKey(gw, { name: 'A' })
  const answers = await Promise.all(Array.from({ length: 12 }, () => chatAs(gw, a.key)))
  expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200))
  const sums = (await Promise.all(answers.map(readJson))).reduce(
    (t: Tokens, r) => ({ input: t.input + r.usage.prompt_tokens, output: t.output + r.usage.completion_tokens }),
    { input: 0, output: 0 },
  )
  expect((await readJson(await keysApi(gw).usage())).totals).toEqual({ requests: 12, errors: 0, input_tokens: sums.input, output_tokens: sums.output })
})

test('usage outlives a gateway restart on the same SQLite file', async () => {
  const db = join(fixtures.dir(), 'gateway.db')
  const first = await fixtures.mockGateway(['--db', db])
  const a = await createKey(first, { name: 'A' })
  const reply = await openaiAs(first, a.key).chat.completions.create({ model: 'mock', messages })
  expect((await readJson(await keysApi(first).usage())).totals.requests).toBe(1)
  await first.stop()
  const second = await fixtures.mockGateway(['--db', db])
  expect((await readJson(await keysApi(second).usage())).data).toEqual([
    { key_id: a.id, key_name: 'A', model: 'mock', engine_id: 'mock', date: dayOf(), requests: 1, errors: 0, input_tokens: reply.usage!.prompt_tokens, output_tokens: reply.usage!.completion_tokens },
  ])
})

test('usage not yet flushed is written when the gateway process shuts down on SIGTERM', async () => {
  const dir = fixtures.dir()
  const db = join(dir, 'gateway.db')
  // A long flush interval: only the shutdown flush can write the row.
  const config = fixtures.configFile('usage:\n  flush_interval_seconds: 3600\n')
  const child = await spawnGateway(['--mock', '--admin-key', ADMIN_KEY, '--db', db, '--config', config, '--port', '0'], { cwd: dir })
  fixtures.defer(() => child.kill('SIGKILL'))
  await waitForModel(child.url, 'mock')
  const created = await fetch(`${child.url}/v1/management/keys`, { method: 'POST', headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' }, body: '{"name":"A"}' })
  const a = (await created.json()) as CreatedKey
  const reply = await fetch(`${child.url}/v1/chat/completions`, { method: 'POST', headers: { ...bearer(a.key), 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mock', messages }) })
  const usage = ((await reply.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
  await child.kill('SIGTERM')
  const after = await fixtures.mockGateway(['--db', db])
  expect((await readJson(await keysApi(after).usage())).data).toEqual([
    { key_id: a.id, key_name: 'A', model: 'mock', engine_id: 'mock', date: dayOf(), requests: 1, errors: 0, input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens },
  ])
})

test('usage counts on the UTC day of each request, across midnight and a clock set back', () => {
  const db = openDatabase(':memory:')
  migrate(db)
  let now = Date.parse('2026-11-23T23:59:59.999Z')
  const recorder = new UsageRecorder(db, () => now)
  const event = { keyId: 'k', model: 'm', engineId: 'e', failed: false, inputTokens: 1, outputTokens: 2 }
  recorder.record(event)
  now = Date.parse('2026-11-24T00:00:00.000Z')
  recorder.record(event)
  recorder.record(event)
  now = Date.parse('2026-11-23T12:00:00.000Z')
  recorder.record(event)
  expect(recorder.report({}).map((r) => [r.date, r.requests, r.output_tokens])).toEqual([
    ['2026-11-23', 2, 4],
    ['2026-11-24', 2, 4],
  ])
  db.close()
})

test('requests alternating between keys, models and engines, and counted across flushes, each land on their own row', () => {
  const db = openDatabase(':memory:')
  migrate(db)
  const recorder = new UsageRecorder(db, () => Date.parse('2026-11-23T10:00:00Z'))
  const event = (keyId: string, model: string, engineId: string, failed = false) => ({ keyId, model, engineId, failed, inputTokens: 1, outputTokens: 10 })
  recorder.record(event('a', 'm', 'e1'))
  recorder.record(event('a', 'm', 'e2'))
  recorder.record(event('b', 'm', 'e1'))
  recorder.record(event('a', 'm', 'e1', true))
  recorder.record(event('a', 'n', 'e1'))
  recorder.record(event('a', 'm', 'e1'))
  recorder.flush()
  // After a flush the same key, model and engine start a new pending count, added to the stored row.
  recorder.record(event('a', 'm', 'e1'))
  recorder.record(event('a', 'm', 'e1'))
  expect(recorder.report({}).map((r) => [r.key_id, r.model, r.engine_id, r.requests, r.errors, r.output_tokens])).toEqual([
    ['a', 'm', 'e1', 5, 1, 50],
    ['a', 'm', 'e2', 1, 0, 10],
    ['a', 'n', 'e1', 1, 0, 10],
    ['b', 'm', 'e1', 1, 0, 10],
  ])
  db.close()
})
