// Model discovery on the refresh loop: models appear and disappear with the engines' lists, and an
// engine that stops answering leaves /v1/models until it answers again.
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jsonResponse, startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'
import { readJson } from '../helpers/http'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

async function fastRefreshGateway(engines: FakeEngine[]): Promise<TestGateway> {
  const file = join(mkdtempSync(join(tmpdir(), 'gw-cfg-')), 'config.yaml')
  writeFileSync(file, `health:\n  interval_seconds: 0.05\n  timeout_seconds: 1\nengines:\n${engines.map((e) => `  - ${e.url}\n`).join('')}`)
  const gw = await startGateway(['--config', file])
  cleanup.push(() => gw.stop())
  return gw
}

const modelIds = async (gw: TestGateway) => ((await readJson(await gw.fetch('/v1/models'))).data as { id: string }[]).map((m) => m.id).sort()

test('a model an engine starts listing is served after the next refresh, and one it drops is not', async () => {
  const engine = await startFakeEngine({ models: ['a'] })
  cleanup.push(() => engine.stop())
  const gw = await fastRefreshGateway([engine])
  expect(await modelIds(gw)).toEqual(['a'])
  engine.override = (req) =>
    req.method === 'GET' && req.path === '/v1/models' ? jsonResponse({ object: 'list', data: [{ id: 'b', object: 'model', owned_by: 'x' }] }) : undefined
  await waitFor(async () => JSON.stringify(await modelIds(gw)) === '["b"]', 3000, 'model list to change')
  const res = await gw.fetch('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x' }] }) })
  expect(res.status).toBe(404)
  expect((await readJson(res)).error.code).toBe('model_not_found')
})

test('an engine that stops answering leaves /v1/models without failing it, and returns when back', async () => {
  const [a, b] = await Promise.all([startFakeEngine({ models: ['a'] }), startFakeEngine({ models: ['b'] })])
  cleanup.push(() => a.stop(), () => b.stop())
  const gw = await fastRefreshGateway([a, b])
  expect(await modelIds(gw)).toEqual(['a', 'b'])
  await b.stop()
  await waitFor(async () => JSON.stringify(await modelIds(gw)) === '["a"]', 3000, 'b to leave')
  expect(gw.registry.all.find((e) => e.baseUrl === b.url)!.state).toBe('ERROR')
  await b.restart()
  await waitFor(async () => JSON.stringify(await modelIds(gw)) === '["a","b"]', 3000, 'b to return')
  expect(gw.registry.all.find((e) => e.baseUrl === b.url)!.state).toBe('READY')
})
