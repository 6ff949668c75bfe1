// A seeded fuzz run against every route of a gateway with auth on (an admin key, virtual keys A and B),
// limits set low, CORS for one origin, and sessions in a real SQLite file. Thousands of hostile
// requests (see fuzz-requests.ts) must never earn a 5xx, every error must be JSON in its API's
// envelope, no key may act on another's sessions, and the database must come out intact.
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FuzzLimits } from '../helpers/fuzz'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { readJson } from '../helpers/http'
import { fuzzRequest, ownerOf, SESSION_ID, type FuzzRequest, type FuzzWorld } from './fuzz-requests'

/** Change the seed to explore other inputs; a failure names it with the request number. */
const SEED = 0x5eed_0007
const REQUESTS = 5000
const CONCURRENCY = 16
const ADMIN = 'fuzz-admin-key-0123456789abcdef'
const ORIGIN = 'https://app.example'
const limits: FuzzLimits = { maxStringChars: 2000, maxMessages: 64, maxJsonDepth: 24, maxBodyBytes: 262_144 }

let dir: string
let dbPath: string
let engine: FakeEngine
let gw: TestGateway
let stopped: Promise<void> | undefined
let world: FuzzWorld
const stopGateway = () => (stopped ??= gw.stop())

const found = { serverErrors: [] as string[], envelopes: [] as string[], requestIds: [] as string[], tenancy: [] as string[], cors: [] as string[], unanswered: [] as string[] }
const statuses = new Map<number, number>()
/** Requests by A or B that named a session in another principal's namespace. */
let tenancyProbes = 0
/** Sessions each key created during the run (answers 200 to POST /sessions). */
const created = { a: new Set<string>(), b: new Set<string>() }
/** Each sentinel as the admin read it before the run. */
const before = new Map<string, unknown>()

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` })
const json = (secret: string, body: unknown) => ({ method: 'POST', headers: { ...bearer(secret), 'content-type': 'application/json' }, body: JSON.stringify(body) })

async function createKey(body: object): Promise<{ id: string; key: string }> {
  const res = await gw.fetch('/v1/management/keys', json(ADMIN, body))
  if (res.status !== 200) throw new Error(`POST /v1/management/keys answered ${res.status}: ${await res.text()}`)
  return readJson(res)
}

async function sessionAs(secret: string, id: string): Promise<Response> {
  return gw.fetch(`/sessions/${encodeURIComponent(id)}`, { headers: bearer(secret) })
}

/** Every session id `secret` can list, following next_cursor (bounded). */
async function listAll(secret: string): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const res = await gw.fetch(`/sessions?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: bearer(secret) })
    if (res.status !== 200) throw new Error(`GET /sessions answered ${res.status}: ${await res.text()}`)
    const body = await readJson(res)
    ids.push(...body.sessions.map((s: { id: string }) => s.id))
    cursor = body.next_cursor
    if (!cursor) break
  }
  return ids
}

function describe(req: FuzzRequest, status: number | string, text: string): string {
  const body = req.body === undefined ? '' : typeof req.body === 'string' ? req.body.slice(0, 160) : `bytes ${Buffer.from(req.body.slice(0, 48)).toString('hex')}`
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v]))
  return `seed=${SEED} #${req.index} ${req.principal} ${req.method} ${req.path.slice(0, 160)} headers=${JSON.stringify(headers)} body=${JSON.stringify(body)} → ${status} ${text.slice(0, 240)}`
}

interface ErrorShape {
  type?: unknown
  error?: { type?: unknown; message?: unknown; param?: unknown; code?: unknown }
}

/** Why an error answer is not in its API's envelope, or undefined when it is. */
function envelopeProblem(path: string, headers: Record<string, string>, res: Response, text: string): string | undefined {
  if (!res.headers.get('content-type')?.startsWith('application/json')) return `content-type ${res.headers.get('content-type')}`
  let body: ErrorShape | null
  try {
    body = JSON.parse(text) as ErrorShape | null
  } catch {
    return 'body is not JSON'
  }
  const e = body?.error
  const message = typeof e?.message === 'string' && e.message.length > 0 && typeof e.type === 'string'
  // Anthropic clients (which send anthropic-version) get Anthropic's envelope from the model routes too.
  const anthropicModels = (path === '/v1/models' || path.startsWith('/v1/models/')) && 'anthropic-version' in headers
  if (path.startsWith('/v1/messages') || anthropicModels) return body?.type === 'error' && message ? undefined : 'not {type:"error", error:{type, message}}'
  const ok = Object.keys(body ?? {}).join() === 'error' && message && (e?.param === null || typeof e?.param === 'string') && (e?.code === null || typeof e?.code === 'string')
  return ok ? undefined : 'not {error:{message, type, param, code}}'
}

/** Records what is wrong with one answer. */
function inspect(req: FuzzRequest, res: Response, text: string): void {
  const said = () => describe(req, res.status, text)
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
  if (res.status >= 500) found.serverErrors.push(said())
  const problem = res.status >= 400 && req.method !== 'HEAD' ? envelopeProblem(new URL(gw.url + req.path).pathname, req.headers, res, text) : undefined
  if (problem) found.envelopes.push(`${problem}: ${said()}`)
  const requestId = res.headers.get('x-request-id')
  if (!requestId || !SESSION_ID.test(requestId) || requestId === req.badRequestId) found.requestIds.push(`x-request-id ${JSON.stringify(requestId)}: ${said()}`)
  if (req.origin && req.origin !== ORIGIN && res.headers.get('access-control-allow-origin'))
    found.cors.push(`allow-origin ${res.headers.get('access-control-allow-origin')}: ${said()}`)
  if (req.principal !== 'a' && req.principal !== 'b') return
  const owner = req.sessionId === undefined ? undefined : ownerOf(req.sessionId, world)
  if (owner && owner !== req.principal && !req.isImport) {
    tenancyProbes++
    if (res.status < 300) found.tenancy.push(`${req.principal} acted on ${owner}'s ${req.sessionId}: ${said()}`)
  }
  if (req.method === 'POST' && req.path === '/sessions' && res.status === 200) {
    const id = (JSON.parse(text) as { id: string }).id
    // Only ids no other key can ever create: its own namespace, or a generated UUID.
    if (ownerOf(id, world) === req.principal || /^[0-9a-f-]{36}$/.test(id)) created[req.principal].add(id)
  }
}

async function send(req: FuzzRequest): Promise<void> {
  try {
    const res = await fetch(gw.url + req.path, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: AbortSignal.timeout(30_000) })
    inspect(req, res, req.method === 'HEAD' ? '' : await res.text())
  } catch (e) {
    found.unanswered.push(describe(req, 'no answer', String(e)))
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-fuzz-'))
  dbPath = join(dir, 'gateway.db')
  const configPath = join(dir, 'config.yaml')
  writeFileSync(
    configPath,
    [
      'limits:',
      `  max_messages: ${limits.maxMessages}`,
      `  max_string_chars: ${limits.maxStringChars}`,
      `  max_json_depth: ${limits.maxJsonDepth}`,
      '  max_header_bytes: 8192',
      'cors:',
      `  allow_origins: ['${ORIGIN}']`,
    ].join('\n'),
  )
  engine = await startFakeEngine({ models: ['m', 'm2'] })
  gw = await startGateway(['--db', dbPath, '--engine', engine.url, '--admin-key', ADMIN, '--config', configPath, '--max-body-bytes', String(limits.maxBodyBytes)])
  const a = await createKey({ name: 'A' })
  const b = await createKey({ name: 'B', models: ['m'] })
  const spare = await Promise.all([0, 1, 2, 3].map((i) => createKey({ name: `spare-${i}` })))
  const engines = await readJson(await gw.fetch('/v1/management/engines', { headers: bearer(ADMIN) }))
  const sentinels = ['a-sentinel-0', 'a-sentinel-1', 'a-sentinel-2', 'a-chat-0', 'a-chat-1']
  for (const id of sentinels.slice(0, 3)) {
    const res = await gw.fetch('/sessions', json(a.key, { session_id: id, title: 'sentinel', metadata: { owner: 'A' } }))
    if (res.status !== 200) throw new Error(`creating ${id} answered ${res.status}: ${await res.text()}`)
  }
  for (const id of sentinels.slice(3)) {
    const res = await gw.fetch('/v1/chat/completions', json(a.key, { model: 'm', session_id: id, messages: [{ role: 'user', content: `secret of ${id}` }] }))
    if (res.status !== 200) throw new Error(`chatting in ${id} answered ${res.status}: ${await res.text()}`)
  }
  for (const id of sentinels) before.set(id, await readJson(await sessionAs(ADMIN, id)))
  world = {
    limits,
    models: ['m', 'm2'],
    engineUrl: engine.url,
    engineId: engines.engines[0].engine_id,
    secrets: { admin: ADMIN, a: a.key, b: b.key },
    keyIds: { a: a.id, b: b.id, spare: spare.map((k) => k.id) },
    sentinels,
    allowedOrigin: ORIGIN,
  }
  let next = 0
  const worker = async () => {
    while (next < REQUESTS) await send(fuzzRequest(SEED, next++, world))
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}, 180_000)

afterAll(async () => {
  await stopGateway()
  await engine?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const report = (list: string[]) => ({ seed: SEED, count: list.length, first: list.slice(0, 25) })

test('no fuzzed request is answered with a 5xx', () => {
  expect(report(found.serverErrors)).toEqual({ seed: SEED, count: 0, first: [] })
})

test('every fuzzed request got a whole answer', () => {
  expect(report(found.unanswered)).toEqual({ seed: SEED, count: 0, first: [] })
})

test("every error answer is JSON in its API's envelope", () => {
  expect(report(found.envelopes)).toEqual({ seed: SEED, count: 0, first: [] })
})

test('every answer carries a well-formed x-request-id, never a malformed one the client sent', () => {
  expect(report(found.requestIds)).toEqual({ seed: SEED, count: 0, first: [] })
})

test("no key got a 2xx acting on another key's session", () => {
  expect(report(found.tenancy)).toEqual({ seed: SEED, count: 0, first: [] })
})

test('an origin that is not listed never gets access-control-allow-origin', () => {
  expect(report(found.cors)).toEqual({ seed: SEED, count: 0, first: [] })
})

test('the run exercised both refusals and successes', () => {
  const count = (from: number, to: number) => [...statuses].filter(([s]) => s >= from && s < to).reduce((n, [, c]) => n + c, 0)
  expect(count(200, 300)).toBeGreaterThan(REQUESTS / 20)
  expect(count(400, 500)).toBeGreaterThan(REQUESTS / 4)
  expect(tenancyProbes).toBeGreaterThan(REQUESTS / 50)
})

test('the gateway still answers /health after the run', async () => {
  const res = await gw.fetch('/health')
  expect(res.status).toBe(200)
  expect((await readJson(res)).status).toBe('healthy')
})

test("key B lists none of A's or the admin's sessions, and A none of B's", async () => {
  const ofB = await listAll(world.secrets.b)
  const ofA = await listAll(world.secrets.a)
  expect(ofB.filter((id) => ownerOf(id, world) && ownerOf(id, world) !== 'b')).toEqual([])
  expect(ofA.filter((id) => ownerOf(id, world) && ownerOf(id, world) !== 'a')).toEqual([])
  expect(ofA).toEqual(expect.arrayContaining(world.sentinels))
  // Both keys really made sessions during the run, so the checks above are not vacuous.
  expect(created.a.size).toBeGreaterThan(0)
  expect(created.b.size).toBeGreaterThan(0)
  expect(ofB.filter((id) => created.a.has(id))).toEqual([])
  expect(ofA.filter((id) => created.b.has(id))).toEqual([])
})

test("A's sessions are as they were, and B gets 404 for each of them", async () => {
  const all = await listAll(ADMIN)
  const ofA = all.filter((id) => ownerOf(id, world) === 'a')
  expect(ofA).toEqual(expect.arrayContaining(world.sentinels))
  for (const id of world.sentinels) expect({ id, session: await readJson(await sessionAs(ADMIN, id)) }).toEqual({ id, session: before.get(id) })
  const seenByB = []
  for (const id of ofA) {
    for (const suffix of ['', '/messages', '/export']) {
      const res = await gw.fetch(`/sessions/${encodeURIComponent(id)}${suffix}`, { headers: bearer(world.secrets.b) })
      if (res.status !== 404) seenByB.push(`${id}${suffix} → ${res.status}`)
    }
  }
  expect(seenByB).toEqual([])
})

test('after the gateway stops, the SQLite file passes integrity_check', async () => {
  await stopGateway()
  const db = new Database(dbPath, { readonly: true })
  try {
    expect(db.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
    expect(db.query('PRAGMA foreign_key_check').all()).toEqual([])
  } finally {
    db.close()
  }
})
