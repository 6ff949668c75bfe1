// Virtual keys through /v1/management/keys: the create answer (the secret shown once), list, get,
// patch, delete and revoke with the admin key; body validation naming the field; revoked, deleted and
// expired keys refused at once; secrets never stored in clear; keys outliving a restart; the first key
// turning auth on; and a key's model list (403 model_not_allowed, /v1/models filtered in both APIs' shapes).
import { NotFoundError as AnthropicNotFoundError, PermissionDeniedError as AnthropicPermissionError } from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type OpenAI from 'openai'
import { PermissionDeniedError } from 'openai'
import { expectAnthropicError, rejectionOf } from '../helpers/anthropic'
import { readJson } from '../helpers/http'
import { collect } from '../helpers/sse-client'
import { ADMIN_KEY, AuthFixtures, anthropicAs, chatAs, createKey, expectOpenAIError, keysApi, openaiAs, send } from '../helpers/auth'

const fixtures = new AuthFixtures()
afterEach(() => fixtures.cleanup())

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
const RECORD_FIELDS = ['created_at', 'expires_at', 'id', 'last_used_at', 'max_concurrency', 'models', 'name', 'prefix', 'revoked', 'rpm', 'tpm']
const PAST = '2020-01-01T00:00:00Z'
const FUTURE = '2999-01-01T00:00:00Z'

const ask = (client: OpenAI, model = 'mock') => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })

test('POST /keys answers the record and the secret: sk-sgl- + 43 base64url chars, prefix its first 11, id key_ + 16 hex', async () => {
  const gw = await fixtures.mockGateway()
  const res = await keysApi(gw).create({ name: 'team-a' })
  expect(res.status).toBe(200)
  const created = await readJson(res)
  expect(Object.keys(created).sort()).toEqual([...RECORD_FIELDS, 'key'].sort())
  expect(created.key).toMatch(/^sk-sgl-[A-Za-z0-9_-]{43}$/)
  expect(created.prefix).toBe(created.key.slice(0, 11))
  expect(created.id).toMatch(/^key_[0-9a-f]{16}$/)
  expect(created).toMatchObject({ name: 'team-a', models: null, rpm: null, tpm: null, max_concurrency: null, expires_at: null, revoked: false, last_used_at: null })
  expect(created.created_at).toMatch(ISO)
})

test('POST /keys keeps the limits, models and expiry it is given', async () => {
  const gw = await fixtures.mockGateway()
  const created = await createKey(gw, { name: 'limited', models: ['mock'], rpm: 10, tpm: 1000, max_concurrency: 2, expires_at: FUTURE })
  expect(created).toMatchObject({ name: 'limited', models: ['mock'], rpm: 10, tpm: 1000, max_concurrency: 2, revoked: false })
  expect(Date.parse(created.expires_at!)).toBe(Date.parse(FUTURE))
})

test('GET /keys lists every key as {keys, count} without the secret or any hash', async () => {
  const gw = await fixtures.mockGateway()
  const a = await createKey(gw, { name: 'a' })
  const b = await createKey(gw, { name: 'b' })
  const text = await (await keysApi(gw).list()).text()
  const body = JSON.parse(text)
  expect(body.count).toBe(2)
  expect(body.keys.map((k: { id: string }) => k.id).sort()).toEqual([a.id, b.id].sort())
  for (const record of body.keys) expect(Object.keys(record).sort()).toEqual(RECORD_FIELDS)
  expect(text).not.toContain(a.key)
  expect(text).not.toContain(b.key)
  expect(text).not.toMatch(/[0-9a-f]{64}/)
})

test('GET /keys/{id} answers the record without the secret; an unknown id is 404 not_found', async () => {
  const gw = await fixtures.mockGateway()
  const { key, ...record } = await createKey(gw, { name: 'one' })
  const text = await (await keysApi(gw).get(record.id)).text()
  expect(JSON.parse(text)).toEqual(record)
  expect(text).not.toContain(key)
  await expectOpenAIError(await keysApi(gw).get('key_0000000000000000'), 404, { code: 'not_found' })
})

test('a new key works for inference at once, through the OpenAI and Anthropic SDKs', async () => {
  const gw = await fixtures.mockGateway()
  const { key } = await createKey(gw)
  expect((await ask(openaiAs(gw, key))).choices).toHaveLength(1)
  expect((await anthropicAs(gw, key).messages.create({ model: 'mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })).type).toBe('message')
})

test('PATCH changes fields, null clears them, and the answer is the record', async () => {
  const gw = await fixtures.mockGateway()
  const created = await createKey(gw, { rpm: 5, models: ['mock'] })
  const res = await keysApi(gw).patch(created.id, { name: 'renamed', rpm: null, models: null, tpm: 500 })
  expect(res.status).toBe(200)
  const record = await readJson(res)
  expect(Object.keys(record).sort()).toEqual(RECORD_FIELDS)
  expect(record).toMatchObject({ id: created.id, name: 'renamed', rpm: null, models: null, tpm: 500, prefix: created.prefix })
})

test('a revoked key is refused at once with 401 invalid_api_key saying it is revoked; revoke is idempotent', async () => {
  const gw = await fixtures.mockGateway()
  const { id, key } = await createKey(gw)
  expect((await chatAs(gw, key)).status).toBe(200)
  for (let i = 0; i < 2; i++) {
    const res = await keysApi(gw).revoke(id)
    expect(res.status).toBe(200)
    expect(await readJson(res)).toMatchObject({ id, revoked: true })
  }
  const error = await expectOpenAIError(await chatAs(gw, key), 401, { type: 'authentication_error', code: 'invalid_api_key' })
  expect(error.message).toMatch(/revoked/i)
})

test('a deleted key answers {id, deleted: true}, is refused at once and is gone from the list', async () => {
  const gw = await fixtures.mockGateway()
  const { id, key } = await createKey(gw)
  await createKey(gw, { name: 'keeps auth on' })
  const res = await keysApi(gw).remove(id)
  expect(res.status).toBe(200)
  expect(await readJson(res)).toEqual({ id, deleted: true })
  await expectOpenAIError(await chatAs(gw, key), 401, { code: 'invalid_api_key' })
  expect((await keysApi(gw).get(id)).status).toBe(404)
  expect((await readJson(await keysApi(gw).list())).count).toBe(1)
})

test('a key created already expired is refused 401 invalid_api_key saying it expired', async () => {
  const gw = await fixtures.mockGateway()
  const { key } = await createKey(gw, { expires_at: PAST })
  const error = await expectOpenAIError(await chatAs(gw, key), 401, { code: 'invalid_api_key' })
  expect(error.message).toMatch(/expired/i)
})

test('PATCH expires_at into the past stops the key for the next request', async () => {
  const gw = await fixtures.mockGateway()
  const { id, key } = await createKey(gw, { expires_at: FUTURE })
  expect((await chatAs(gw, key)).status).toBe(200)
  expect((await keysApi(gw).patch(id, { expires_at: PAST })).status).toBe(200)
  expect((await expectOpenAIError(await chatAs(gw, key), 401, { code: 'invalid_api_key' })).message).toMatch(/expired/i)
})

test.each([
  ['an unknown field', { name: 'x', colour: 'blue' }, 'colour'],
  ['no name', {}, 'name'],
  ['an empty name', { name: '' }, 'name'],
  ['a name of 129 characters', { name: 'n'.repeat(129) }, 'name'],
  ['rpm 0', { name: 'x', rpm: 0 }, 'rpm'],
  ["rpm 'x'", { name: 'x', rpm: 'x' }, 'rpm'],
  ['rpm 1.5', { name: 'x', rpm: 1.5 }, 'rpm'],
  ['tpm -1', { name: 'x', tpm: -1 }, 'tpm'],
  ['max_concurrency 0', { name: 'x', max_concurrency: 0 }, 'max_concurrency'],
  ['models with an empty string', { name: 'x', models: [''] }, 'models'],
  ['models as a string', { name: 'x', models: 'mock' }, 'models'],
  ['expires_at that is not a date-time', { name: 'x', expires_at: 'tomorrow' }, 'expires_at'],
])('POST /keys with %s is 400 naming the field, and creates nothing', async (_, body, param) => {
  const gw = await fixtures.mockGateway()
  const error = await expectOpenAIError(await keysApi(gw).create(body), 400, { type: 'invalid_request_error' })
  expect(error.param ?? '').toStartWith(param)
  expect(error.message).toContain(param)
  expect((await readJson(await keysApi(gw).list())).count).toBe(0)
})

test.each([
  ['an unknown field', { nmae: 'typo' }, 'nmae'],
  ['rpm 0', { rpm: 0 }, 'rpm'],
  ['an empty name', { name: '' }, 'name'],
  ['the secret itself', { key: 'sk-sgl-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }, 'key'],
])('PATCH /keys/{id} with %s is 400 naming the field, and changes nothing', async (_, body, param) => {
  const gw = await fixtures.mockGateway()
  const { key, ...record } = await createKey(gw, { name: 'before', rpm: 3 })
  const error = await expectOpenAIError(await keysApi(gw).patch(record.id, body), 400, { type: 'invalid_request_error' })
  expect(error.param ?? '').toStartWith(param)
  expect(await readJson(await keysApi(gw).get(record.id))).toEqual(record)
  expect((await chatAs(gw, key)).status).toBe(200)
})

test('PATCH, DELETE and revoke of an unknown id are 404 not_found', async () => {
  const gw = await fixtures.mockGateway()
  const api = keysApi(gw)
  for (const res of [await api.patch('key_0000000000000000', { rpm: 1 }), await api.remove('key_0000000000000000'), await api.revoke('key_0000000000000000')])
    await expectOpenAIError(res, 404, { code: 'not_found' })
})

test('a virtual key on every keys and usage route is 403 permission_denied', async () => {
  const gw = await fixtures.mockGateway()
  const { id, key } = await createKey(gw)
  const api = keysApi(gw, key)
  for (const res of [await api.create({ name: 'x' }), await api.list(), await api.get(id), await api.patch(id, { rpm: 1 }), await api.revoke(id), await api.remove(id), await api.usage()])
    await expectOpenAIError(res, 403, { type: 'permission_error', code: 'permission_denied' })
  expect((await chatAs(gw, key)).status).toBe(200)
})

test('the keys routes without a credential are 401, and with a wrong one too', async () => {
  const gw = await fixtures.mockGateway()
  await createKey(gw)
  for (const key of [null, 'sk-sgl-not-a-real-key-at-all-0000000000000000000']) {
    await expectOpenAIError(await keysApi(gw, key).list(), 401, { type: 'authentication_error' })
    await expectOpenAIError(await keysApi(gw, key).create({ name: 'x' }), 401, { type: 'authentication_error' })
  }
  expect((await readJson(await keysApi(gw).list())).count).toBe(1)
})

test('the admin key is accepted as x-api-key on the keys routes', async () => {
  const gw = await fixtures.mockGateway()
  expect((await send(gw, 'GET', '/v1/management/keys', undefined, undefined, { 'x-api-key': ADMIN_KEY })).status).toBe(200)
})

test('the first virtual key turns auth on for good: revoking or deleting every key, or a restart, does not open the gateway again', async () => {
  const db = join(fixtures.dir(), 'gateway.db')
  const gw = await fixtures.mockGateway(['--db', db])
  expect((await chatAs(gw, undefined)).status).toBe(200)
  const { id } = await createKey(gw)
  await expectOpenAIError(await chatAs(gw, undefined), 401, { code: 'invalid_api_key' })
  await keysApi(gw).revoke(id)
  expect((await chatAs(gw, undefined)).status).toBe(401)
  await keysApi(gw).remove(id)
  expect((await chatAs(gw, undefined)).status).toBe(401)
  expect((await send(gw, 'GET', '/sessions', undefined)).status).toBe(401)
  await gw.stop()
  const again = await fixtures.mockGateway(['--db', db])
  expect((await chatAs(again, undefined)).status).toBe(401)
  expect((await chatAs(again, ADMIN_KEY)).status).toBe(200)
})

/** Every file of a directory (the SQLite file and its -wal/-shm) as one latin1 string. */
const bytesOf = (dir: string) => readdirSync(dir).map((name) => readFileSync(join(dir, name)).toString('latin1')).join('\n')

test('the secret is not in the SQLite files in clear', async () => {
  const dir = fixtures.dir()
  const gw = await fixtures.mockGateway(['--db', join(dir, 'gateway.db')])
  const { key, prefix } = await createKey(gw, { name: 'secret-holder' })
  expect((await chatAs(gw, key)).status).toBe(200)
  await gw.stop()
  const stored = bytesOf(dir)
  expect(stored).toContain('secret-holder')
  expect(stored).toContain(prefix)
  expect(stored).not.toContain(key)
  expect(stored).not.toContain(key.slice(7))
})

test('virtual keys outlive a gateway restart on the same SQLite file', async () => {
  const dir = fixtures.dir()
  const db = join(dir, 'gateway.db')
  const first = await fixtures.mockGateway(['--db', db])
  const { key, last_used_at: _, ...record } = await createKey(first, { rpm: 7, models: ['mock'] })
  const revoked = await createKey(first, { name: 'revoked' })
  await keysApi(first).revoke(revoked.id)
  await first.stop()
  const second = await fixtures.mockGateway(['--db', db])
  expect(await readJson(await keysApi(second).get(record.id))).toMatchObject(record)
  expect((await ask(openaiAs(second, key))).choices).toHaveLength(1)
  expect((await chatAs(second, revoked.key)).status).toBe(401)
  expect((await chatAs(second, undefined)).status).toBe(401)
})

test('a key limited to some models gets 403 model_not_allowed for others, via the OpenAI SDK', async () => {
  const gw = await fixtures.mockGateway(['--mock-model', 'm1', '--mock-model', 'm2'])
  const { key } = await createKey(gw, { models: ['m1'] })
  expect((await ask(openaiAs(gw, key), 'm1')).choices).toHaveLength(1)
  const error = await rejectionOf(ask(openaiAs(gw, key), 'm2'))
  expect(error).toBeInstanceOf(PermissionDeniedError)
  expect(error).toMatchObject({ status: 403, code: 'model_not_allowed', type: 'permission_error', param: 'model' })
})

test('a key limited to some models gets permission_error from /v1/messages, via the Anthropic SDK and on the wire', async () => {
  const gw = await fixtures.mockGateway(['--mock-model', 'm1', '--mock-model', 'm2'])
  const { key } = await createKey(gw, { models: ['m1'] })
  const body = { model: 'm2', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] }
  const error = await rejectionOf(anthropicAs(gw, key).messages.create(body))
  expect(error).toBeInstanceOf(AnthropicPermissionError)
  expect(error).toMatchObject({ status: 403, type: 'permission_error' })
  await expectAnthropicError(await send(gw, 'POST', '/v1/messages', undefined, body, { 'x-api-key': key }), 403, 'permission_error')
})

test('/v1/models lists only the models of a key that has a list; the admin key sees all', async () => {
  const gw = await fixtures.mockGateway(['--mock-model', 'm1', '--mock-model', 'm2'])
  const { key } = await createKey(gw, { models: ['m1'] })
  const ids = async (k: string) => ((await readJson(await send(gw, 'GET', '/v1/models', k))).data as { id: string }[]).map((m) => m.id).sort()
  expect(await ids(key)).toEqual(['m1'])
  expect(await ids(ADMIN_KEY)).toEqual(['m1', 'm2'])
})

test("the Anthropic SDK's models.list() and retrieve() show a key only its models; another is 404 not_found_error", async () => {
  const gw = await fixtures.mockGateway(['--mock-model', 'm1', '--mock-model', 'm2'])
  const { key } = await createKey(gw, { models: ['m1'] })
  const client = anthropicAs(gw, key)
  expect((await collect(client.models.list())).map((m) => m.id)).toEqual(['m1'])
  expect((await client.models.retrieve('m1')).type).toBe('model')
  expect(await rejectionOf(client.models.retrieve('m2'))).toBeInstanceOf(AnthropicNotFoundError)
  await expectAnthropicError(await send(gw, 'GET', '/v1/models/m2', key, undefined, { 'anthropic-version': '2023-06-01' }), 404, 'not_found_error')
})

test('PATCH models takes effect for the next request', async () => {
  const gw = await fixtures.mockGateway(['--mock-model', 'm1', '--mock-model', 'm2'])
  const { id, key } = await createKey(gw)
  expect((await chatAs(gw, key, 'm2')).status).toBe(200)
  await keysApi(gw).patch(id, { models: ['m1'] })
  await expectOpenAIError(await chatAs(gw, key, 'm2'), 403, { code: 'model_not_allowed', param: 'model' })
})

test('last_used_at shows the latest use at once, and is written to the database (it survives a restart)', async () => {
  const db = join(fixtures.dir(), 'gateway.db')
  const first = await fixtures.mockGateway(['--db', db])
  const created = await createKey(first)
  const before = Date.now()
  expect((await chatAs(first, created.key)).status).toBe(200)
  const used = (await readJson(await keysApi(first).get(created.id))).last_used_at as string
  expect(used).toMatch(ISO)
  expect(Date.parse(used)).toBeGreaterThanOrEqual(before - 1000)
  await first.stop()
  const second = await fixtures.mockGateway(['--db', db])
  expect((await readJson(await keysApi(second).get(created.id))).last_used_at).toBe(used)
})
