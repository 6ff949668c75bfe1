// Engines registered through the management API live in the SQLite file and come back when a new
// gateway opens it, with their changes; removed engines stay gone, and config engines are never stored.
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readJson } from '../helpers/http'
import { listedIds, managementFixtures, registered } from '../helpers/management-api'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})
const { fakeEngine, gateway } = managementFixtures(cleanup)

/** A database file in a fresh temp dir, removed after the test. */
function dbFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-mgmt-db-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'gateway.db')
}

/** Stops a gateway on `db` and starts a new one on the same file (with the same extra arguments). */
async function restart(old: { gw: { stop(): Promise<void> } }, db: string, argv: string[] = []) {
  await old.gw.stop()
  return gateway(['--db', db, ...argv])
}

test('an engine registered through the API is back after a restart with the same fields, and serves requests', async () => {
  const engine = await fakeEngine()
  const db = dbFile()
  const first = await gateway(['--db', db])
  const before = await registered(first.api, { engine_id: 'e1', url: engine.url, weight: 2.5, max_concurrency: 3, metadata: { rack: 'r1', n: 1 } })
  const { gw, api } = await restart(first, db)
  const after = await readJson(await api.engine('e1'))
  for (const field of ['engine_id', 'base_url', 'weight', 'max_concurrency', 'metadata', 'created_at'])
    expect(after[field]).toEqual(before[field])
  expect(after.state).toBe('READY')
  const reply = await gw.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  expect(reply.choices[0]!.message.content).toContain('You said')
  expect(engine.inference()).toHaveLength(1)
})

test('a PATCHed weight, max_concurrency and metadata survive a restart', async () => {
  const engine = await fakeEngine()
  const db = dbFile()
  const first = await gateway(['--db', db])
  await registered(first.api, { engine_id: 'e1', url: engine.url, max_concurrency: 3, metadata: { rack: 'r1' } })
  expect((await first.api.patch('e1', { weight: 7, max_concurrency: null, metadata: { zone: 'z' } })).status).toBe(200)
  const { api } = await restart(first, db)
  expect(await readJson(await api.engine('e1'))).toMatchObject({ weight: 7, max_concurrency: null, metadata: { rack: 'r1', zone: 'z' } })
})

test('a DELETEd engine does not come back after a restart', async () => {
  const [a, b] = [await fakeEngine(), await fakeEngine()]
  const db = dbFile()
  const first = await gateway(['--db', db])
  await registered(first.api, { engine_id: 'a', url: a.url })
  await registered(first.api, { engine_id: 'b', url: b.url })
  expect((await first.api.remove('a')).status).toBe(200)
  const { api } = await restart(first, db)
  expect(await listedIds(api)).toEqual(['b'])
})

test('a pruned engine does not come back after a restart', async () => {
  const engine = await fakeEngine()
  const db = dbFile()
  const first = await gateway(['--db', db])
  await registered(first.api, { engine_id: 'e1', url: engine.url })
  await first.api.patch('e1', { state: 'DRAINING' })
  expect((await readJson(await first.api.prune())).removed).toEqual(['e1'])
  const { api } = await restart(first, db)
  expect(await listedIds(api)).toEqual([])
})

test('engines from the command line are not stored: a restart without them has none', async () => {
  const engine = await fakeEngine()
  const db = dbFile()
  const first = await gateway(['--db', db, '--engine', engine.url])
  const [configured] = await listedIds(first.api)
  expect((await first.api.patch(configured!, { weight: 4, metadata: { note: 'x' } })).status).toBe(200)
  const { api } = await restart(first, db)
  expect(await listedIds(api)).toEqual([])
})

test('a stored engine whose URL is now a config engine is left out, and the config engine keeps its own settings', async () => {
  const engine = await fakeEngine()
  const db = dbFile()
  const first = await gateway(['--db', db])
  await registered(first.api, { engine_id: 'stored', url: engine.url, weight: 9 })
  const { api } = await restart(first, db, ['--engine', engine.url])
  const engines = (await readJson(await api.engines())).engines as { engine_id: string; weight: number; source: string }[]
  expect(engines).toHaveLength(1)
  expect(engines[0]).toMatchObject({ source: 'config', weight: 1 })
  // The dropped copy is gone from the database too: its id can be registered again, elsewhere.
  const other = await fakeEngine()
  expect((await api.register({ engine_id: 'stored', url: other.url })).status).toBe(200)
})
