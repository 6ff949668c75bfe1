// Capacity limits over a fleet of three real loopback engines with max_concurrency 1 each: requests
// beyond the fleet's slots wait in the admission queue (visible as pending_requests) and take the
// first freed slot; a full queue and a wait past queue_timeout_ms answer 429 resource_exhausted with
// Retry-After, which the OpenAI SDK raises as RateLimitError.
import { afterEach, expect, test } from 'bun:test'
import { RateLimitError } from 'openai'
import { ask, controlPlaneStatus, countsOf, fire, Fleet, holdAt, pendingRequests, receivedBy, servedBy, type Gate } from '../helpers/fleet'
import type { FakeEngine } from '../helpers/fake-engine'
import type { TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

interface Saturated {
  engines: FakeEngine[]
  gw: TestGateway
  /** One gate per engine, holding every request it receives. */
  gates: Gate[]
  busy: ReturnType<typeof fire>[]
}

/** Three engines with one slot each, every slot taken by a request held open at its engine. */
async function saturatedFleet(scheduling: Record<string, unknown> = {}): Promise<Saturated> {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { scheduling }, () => ({ max_concurrency: 1 }))
  const gates = engines.map((e) => {
    const gate = fleet.gate()
    holdAt(e, gate)
    return gate
  })
  const busy = [0, 1, 2].map((i) => fire(ask(gw, `busy${i}`)))
  await waitFor(() => gates.every((g) => g.held === 1), 3000, 'one held request per engine')
  return { engines, gw, gates, busy }
}

async function openAll({ gates, busy }: Saturated): Promise<void> {
  for (const g of gates) g.open()
  for (const r of await Promise.all(busy.map((b) => b.result))) expect(r.ok).toBe(true)
}

test('a request beyond every engine max_concurrency waits in the queue and takes the first freed slot', async () => {
  const fleetState = await saturatedFleet()
  const { engines, gw, gates } = fleetState
  expect(countsOf(engines)).toEqual([1, 1, 1])
  const queued = fire(ask(gw, 'queued'))
  await waitFor(async () => (await pendingRequests(gw)) === 1, 3000, 'pending_requests 1')
  expect((await controlPlaneStatus(gw)).control_plane.running_requests).toBe(3)
  expect(receivedBy(engines, 'queued')).toEqual([])

  gates[1]!.releaseOne()
  await waitFor(() => receivedBy(engines, 'queued').length === 1, 3000, 'queued request dispatched')
  expect(servedBy(engines, 'queued')).toBe(1)
  expect(await pendingRequests(gw)).toBe(0)
  await openAll(fleetState)
  expect((await queued.result).ok).toBe(true)
})

test('with queue_size 1 the request after the queued one gets 429 resource_exhausted with Retry-After', async () => {
  const fleetState = await saturatedFleet({ queue_size: 1 })
  const { engines, gw } = fleetState
  const queued = fire(ask(gw, 'queued'))
  await waitFor(async () => (await pendingRequests(gw)) === 1, 3000, 'pending_requests 1')

  const error = await ask(gw, 'rejected').then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(RateLimitError)
  const limited = error as RateLimitError
  expect(limited.status).toBe(429)
  expect(limited.code).toBe('resource_exhausted')
  expect(limited.type).toBe('rate_limit_error')
  expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
  expect(limited.message).toContain('queue is full')
  expect(receivedBy(engines, 'rejected')).toEqual([])
  expect(await pendingRequests(gw)).toBe(1)

  await openAll(fleetState)
  expect((await queued.result).ok).toBe(true)
})

test('with queue_size 0 a request finding every slot taken gets 429 at once', async () => {
  const fleetState = await saturatedFleet({ queue_size: 0 })
  const error = await ask(fleetState.gw, 'rejected').then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(RateLimitError)
  expect((error as RateLimitError).code).toBe('resource_exhausted')
  await openAll(fleetState)
})

test('with queue_timeout_ms 200 a waiting request gets 429 after about 200 ms and leaves the queue', async () => {
  const fleetState = await saturatedFleet({ queue_timeout_ms: 200 })
  const { engines, gw } = fleetState
  const started = performance.now()
  const error = await ask(gw, 'waits').then(() => undefined, (e: unknown) => e)
  const waited = performance.now() - started
  expect(error).toBeInstanceOf(RateLimitError)
  const limited = error as RateLimitError
  expect(limited.code).toBe('resource_exhausted')
  expect(limited.headers.get('retry-after')).toBe('1')
  expect(limited.message).toContain('200 ms')
  expect(waited).toBeGreaterThanOrEqual(190)
  expect(waited).toBeLessThan(5000)
  expect(await pendingRequests(gw)).toBe(0)
  expect(receivedBy(engines, 'waits')).toEqual([])
  await openAll(fleetState)
})

test('a queued request whose client leaves frees its place and never reaches an engine', async () => {
  const fleetState = await saturatedFleet()
  const { engines, gw, gates } = fleetState
  const abort = new AbortController()
  const params = { model: 'm', messages: [{ role: 'user' as const, content: 'leaves' }] }
  const leaving = fire(gw.openai().chat.completions.create(params, { signal: abort.signal }))
  await waitFor(async () => (await pendingRequests(gw)) === 1, 3000, 'pending_requests 1')
  abort.abort()
  await waitFor(async () => (await pendingRequests(gw)) === 0, 3000, 'pending_requests back to 0')
  expect((await leaving.result).ok).toBe(false)

  // The freed slot goes to the next request, not to the one that left.
  gates[0]!.releaseOne()
  await waitFor(async () => (await controlPlaneStatus(gw)).control_plane.running_requests === 2, 3000, 'slot freed')
  const next = fire(ask(gw, 'next'))
  await waitFor(() => receivedBy(engines, 'next').length === 1, 3000, 'next request dispatched')
  expect(receivedBy(engines, 'leaves')).toEqual([])
  await openAll(fleetState)
  expect((await next.result).ok).toBe(true)
})
