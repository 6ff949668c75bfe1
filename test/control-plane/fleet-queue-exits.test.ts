// How a request leaves the admission queue other than by a freed slot: its engines leave service
// (503 at once, not a 429 after the queue timeout), its deadline passes (429 at the deadline), or the
// engine's circuit breaker cools down (the half-open probe is handed to the waiting request).
import { afterEach, expect, test } from 'bun:test'
import { ask, fire, Fleet, holdAt, pendingRequests } from '../helpers/fleet'
import { jsonResponse } from '../helpers/fake-engine'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

async function oneSlot(config: Record<string, unknown> = {}) {
  const [engine] = await fleet.engines(1)
  const gw = await fleet.gateway([engine!], { scheduling: { queue_timeout_ms: 20_000 }, ...config }, () => ({ max_concurrency: 1 }))
  return { engine: engine!, gw }
}

const statusOf = async (p: Promise<unknown>) => {
  const outcome = await p.then(() => 200, (e: { status?: number }) => e.status)
  return outcome
}

test('a queued request whose only engine is drained gets 503 at once, not a 429 after the queue timeout', async () => {
  const { engine, gw } = await oneSlot()
  const gate = fleet.gate()
  holdAt(engine, gate)
  const busy = fire(ask(gw, 'busy'))
  await waitFor(() => gate.held === 1, 3000, 'the slot taken')
  const waiting = fire(ask(gw, 'waiting'))
  await waitFor(async () => (await pendingRequests(gw)) === 1, 3000, 'one request queued')
  const started = performance.now()
  const res = await gw.fetch(`/v1/management/engines/${encodeURIComponent(gw.registry.all[0]!.id)}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ state: 'DRAINING' }),
  })
  expect(res.status).toBe(200)
  expect(await statusOf(waiting.result.then((r) => (r.ok ? r.value : Promise.reject(r.error))))).toBe(503)
  expect(performance.now() - started).toBeLessThan(10_000)
  expect(await pendingRequests(gw)).toBe(0)
  gate.open()
  expect((await busy.result).ok).toBe(true)
})

test('a queued request with x-sagellm-deadline-ms gets 429 when its deadline passes', async () => {
  const { engine, gw } = await oneSlot()
  const gate = fleet.gate()
  holdAt(engine, gate)
  const busy = fire(ask(gw, 'busy'))
  await waitFor(() => gate.held === 1, 3000, 'the slot taken')
  const res = await gw.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sagellm-deadline-ms': '200' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hurry' }] }),
  })
  expect(res.status).toBe(429)
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('resource_exhausted')
  gate.open()
  expect((await busy.result).ok).toBe(true)
})

test('when an open breaker cools down, its probe goes to the request waiting in the queue', async () => {
  const { engine, gw } = await oneSlot({ circuit_breaker: { failure_threshold: 1, cooldown_seconds: 0.3 }, health: { interval_seconds: 60, failure_threshold: 5 } })
  const gate = fleet.gate()
  // The first request holds the only slot, then fails: the breaker opens with a request queued.
  engine.override = (req, signal) => (req.method === 'POST' ? gate.wait(signal).then(() => jsonResponse({ error: { message: 'boom' } }, 500)) : undefined)
  const failing = fire(ask(gw, 'fails'))
  await waitFor(() => gate.held === 1, 3000, 'the slot taken')
  const waiting = fire(ask(gw, 'waits'))
  await waitFor(async () => (await pendingRequests(gw)) === 1, 3000, 'one request queued')
  engine.override = undefined
  gate.releaseOne()
  expect(await statusOf(failing.result.then((r) => (r.ok ? r.value : Promise.reject(r.error))))).toBe(502)
  expect(gw.registry.all[0]!.breaker.state).toBe('open')
  const result = await waiting.result
  expect(result.ok).toBe(true)
  expect(gw.registry.all[0]!.breaker.state).toBe('closed')
})
