// Session affinity over a fleet of three real loopback engines: each way of naming the session
// (session_id, x-session-affinity header, user) pins it to one engine, many sessions spread, and when
// an engine dies only its sessions move, to healthy engines, without a single client error.
import { afterEach, expect, test } from 'bun:test'
import { ask, countsOf, Fleet, servedBy, type AskOptions } from '../helpers/fleet'
import type { FakeEngine } from '../helpers/fake-engine'
import type { TestGateway } from '../helpers/gateway'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const AFFINITY = { routing: { strategy: 'affinity' } }

const keyed: Record<string, (key: string) => AskOptions> = {
  session_id: (key) => ({ body: { session_id: key } }),
  'x-session-affinity header': (key) => ({ headers: { 'x-session-affinity': key } }),
  user: (key) => ({ body: { user: key } }),
}

/** Sends one request per key (marked `{key}/{round}`) and returns the engine index that served each. */
async function placeKeys(gw: TestGateway, engines: FakeEngine[], keys: string[], round: string): Promise<Map<string, number>> {
  const placed = new Map<string, number>()
  for (const key of keys) {
    await ask(gw, `${key}/${round}`, { body: { session_id: key } })
    placed.set(key, servedBy(engines, `${key}/${round}`))
  }
  return placed
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `session-${i}`)

test.each(Object.keys(keyed))('the same %s sends 10 requests to one engine', async (way) => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, AFFINITY)
  for (let i = 0; i < 10; i++) await ask(gw, `r${i}`, keyed[way]!('the-session'))
  expect(countsOf(engines).sort()).toEqual([0, 0, 10])
})

test('session_id wins over the x-session-affinity header, which wins over user', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, AFFINITY)
  // Find two keys living on different engines, then send requests naming both in different places.
  const placed = await placeKeys(gw, engines, keys(12), 'probe')
  const a = 'session-0'
  const b = [...placed.keys()].find((k) => placed.get(k) !== placed.get(a))!
  expect(b).toBeDefined()
  await ask(gw, 'both-1', { body: { session_id: a, user: b }, headers: { 'x-session-affinity': b } })
  expect(servedBy(engines, 'both-1')).toBe(placed.get(a)!)
  await ask(gw, 'both-2', { body: { user: a }, headers: { 'x-session-affinity': b } })
  expect(servedBy(engines, 'both-2')).toBe(placed.get(b)!)
})

test('30 different sessions spread over at least two engines, each staying where it was put', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, AFFINITY)
  const first = await placeKeys(gw, engines, keys(30), 'first')
  expect(new Set(first.values()).size).toBeGreaterThanOrEqual(2)
  const again = await placeKeys(gw, engines, keys(30), 'again')
  expect(again).toEqual(first)
})

test('when an engine dies only its sessions move, to surviving engines, with no client error', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, AFFINITY)
  const before = await placeKeys(gw, engines, keys(30), 'before')
  // The engine holding most sessions dies (with 30 keys on 3 engines it holds at least 10).
  const perEngine = [0, 1, 2].map((i) => [...before.values()].filter((e) => e === i).length)
  const dead = perEngine.indexOf(Math.max(...perEngine))
  expect(perEngine[dead]).toBeGreaterThanOrEqual(10)
  await engines[dead]!.stop()

  // placeKeys throws on any client error, so reaching the checks means every request succeeded.
  const after = await placeKeys(gw, engines, keys(30), 'after')
  for (const [key, was] of before) {
    if (was === dead) expect(after.get(key)).not.toBe(dead)
    else expect(after.get(key)).toBe(was)
  }
  expect(gw.registry.get(`e${dead}`)!.state).toBe('ERROR')
  // The moved sessions stay on their new engines.
  const settled = await placeKeys(gw, engines, keys(30), 'settled')
  expect(settled).toEqual(after)
})
