// How each routing strategy spreads traffic over a fleet of three real loopback engines serving one
// model: load_balanced evenly and away from busy engines, round_robin by weight, random over all, and
// routing.per_model giving one model its own strategy.
import { afterEach, expect, test } from 'bun:test'
import { ask, controlPlaneStatus, countsOf, fire, Fleet, holdAt, servedBy, settle } from '../helpers/fleet'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

test('load_balanced spreads 30 sequential requests evenly: 10 per engine', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { routing: { strategy: 'load_balanced' } })
  for (let i = 0; i < 30; i++) await ask(gw, `r${i}`)
  expect(countsOf(engines)).toEqual([10, 10, 10])
})

test('load_balanced spreads requests held open at once evenly: 3 per engine for 9', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { routing: { strategy: 'load_balanced' } })
  const gate = fleet.gate()
  for (const e of engines) holdAt(e, gate)
  const pending = Array.from({ length: 9 }, (_, i) => settle(ask(gw, `r${i}`)))
  await waitFor(() => gate.held === 9, 5000, 'nine requests held at the engines')
  expect(countsOf(engines)).toEqual([3, 3, 3])
  gate.open()
  expect((await Promise.all(pending)).every((r) => r.ok)).toBe(true)
})

test('load_balanced sends nothing to an engine with a request in flight while the others are idle', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { routing: { strategy: 'load_balanced' } })
  const gate = fleet.gate()
  holdAt(engines[0]!, gate)
  // Round-robin tie-breaking reaches e0 within three requests to an idle fleet; that one stays open.
  const warm = []
  for (let i = 0; i < 3 && gate.held === 0; i++) {
    const request = fire(ask(gw, `warm${i}`))
    warm.push(request)
    await waitFor(() => request.done || gate.held === 1, 3000, `warm${i} answered or held`)
  }
  expect(gate.held).toBe(1)
  const before = countsOf(engines)
  for (let i = 0; i < 12; i++) await ask(gw, `r${i}`)
  const after = countsOf(engines)
  expect(after[0]).toBe(before[0]!)
  expect(after[1]! - before[1]! + after[2]! - before[2]!).toBe(12)
  // Both idle engines share the traffic (not evenly: the busy engine's turn goes to the next one).
  expect(after[1]! - before[1]!).toBeGreaterThanOrEqual(3)
  expect(after[2]! - before[2]!).toBeGreaterThanOrEqual(3)
  gate.open()
  expect((await Promise.all(warm.map((w) => w.result))).every((r) => r.ok)).toBe(true)
})

test('round_robin with weights 2:1:1 gives exactly 20:10:10 over 40 sequential requests', async () => {
  const engines = await fleet.engines(3)
  const weights = [2, 1, 1]
  const gw = await fleet.gateway(engines, { routing: { strategy: 'round_robin' } }, (i) => ({ weight: weights[i]! }))
  const order: number[] = []
  for (let i = 0; i < 40; i++) {
    await ask(gw, `r${i}`)
    order.push(servedBy(engines, `r${i}`))
  }
  expect(countsOf(engines)).toEqual([20, 10, 10])
  // Smooth: the weight-2 engine takes every other request, never two turns of the others in a row.
  for (let i = 0; i + 4 <= order.length; i += 4) expect(order.slice(i, i + 4).filter((e) => e === 0)).toHaveLength(2)
})

test('random uses every engine over 60 sequential requests', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { routing: { strategy: 'random' } })
  for (let i = 0; i < 60; i++) await ask(gw, `r${i}`)
  const counts = countsOf(engines)
  expect(counts.reduce((a, b) => a + b, 0)).toBe(60)
  // Each engine's share is Binomial(60, 1/3): below 5 has a probability of about 1e-6.
  for (const c of counts) expect(c).toBeGreaterThanOrEqual(5)
})

test('routing.per_model gives one model its own strategy; the status names both', async () => {
  const engines = await fleet.engines(3, { models: ['sticky', 'spread'] })
  const gw = await fleet.gateway(engines, { routing: { strategy: 'round_robin', per_model: { sticky: 'affinity' } } })
  const status = await controlPlaneStatus(gw)
  expect(status.control_plane.routing_strategy).toBe('round_robin')
  expect(status.control_plane.routing_per_model).toEqual({ sticky: 'affinity' })

  const user = { user: 'alice' }
  for (let i = 0; i < 9; i++) await ask(gw, `sticky${i}`, { model: 'sticky', body: user })
  const stickyEngines = new Set(Array.from({ length: 9 }, (_, i) => servedBy(engines, `sticky${i}`)))
  expect(stickyEngines.size).toBe(1)

  const before = countsOf(engines)
  for (let i = 0; i < 9; i++) await ask(gw, `spread${i}`, { model: 'spread', body: user })
  expect(countsOf(engines).map((c, i) => c - before[i]!)).toEqual([3, 3, 3])
})
