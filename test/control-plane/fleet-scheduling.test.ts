// Scheduling policies of the admission queue over a fleet of three real loopback engines with one
// slot each, all taken: queued requests are admitted to the one slot freed, in the order of the policy
// (priority by x-sagellm-priority, slo_aware by x-sagellm-deadline-ms, fifo by arrival), seen in the
// order the engine receives them. Malformed hint headers are rejected with 400 naming the header.
import { afterEach, expect, test } from 'bun:test'
import { BadRequestError } from 'openai'
import { ask, fire, Fleet, holdAt, lastMessageOf, pendingRequests, type Fired } from '../helpers/fleet'
import type { FakeEngine } from '../helpers/fake-engine'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

/**
 * Takes every slot of a three-engine fleet (max_concurrency 1), queues one request per header set in
 * turn (each after the previous one is counted in pending_requests), then frees engine 0's slot only
 * and returns the markers of the queued requests in the order engine 0 received them.
 */
async function admissionOrder(policy: string, queued: Record<string, Record<string, string>>): Promise<string[]> {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { scheduling: { policy } }, () => ({ max_concurrency: 1 }))
  const gates = engines.map((e: FakeEngine) => {
    const gate = fleet.gate()
    holdAt(e, gate, (req) => lastMessageOf(req).startsWith('busy'))
    return gate
  })
  const busy = [0, 1, 2].map((i) => fire(ask(gw, `busy${i}`)))
  await waitFor(() => gates.every((g) => g.held === 1), 3000, 'every slot taken')

  const waiting: Fired<unknown>[] = []
  for (const [marker, headers] of Object.entries(queued)) {
    waiting.push(fire(ask(gw, marker, { headers })))
    await waitFor(async () => (await pendingRequests(gw)) === waiting.length, 3000, `${marker} queued`)
  }
  // Engines 1 and 2 stay busy: every queued request has to pass through engine 0's one slot.
  gates[0]!.open()
  for (const r of await Promise.all(waiting.map((w) => w.result))) expect(r.ok).toBe(true)
  for (const g of gates) g.open()
  for (const r of await Promise.all(busy.map((b) => b.result))) expect(r.ok).toBe(true)
  return engines[0]!.inference().map(lastMessageOf).filter((m) => !m.startsWith('busy'))
}

const priority = (p: string) => ({ 'x-sagellm-priority': p })
const deadline = (ms: number) => ({ 'x-sagellm-deadline-ms': String(ms) })

test('priority admits the lowest x-sagellm-priority first: queued 4, 0, 2 run as 0, 2, 4', async () => {
  const order = await admissionOrder('priority', { p4: priority('4'), p0: priority('0'), p2: priority('2') })
  expect(order).toEqual(['p0', 'p2', 'p4'])
})

test('priority accepts names: BACKGROUND, CRITICAL, HIGH and no header (NORMAL) run as CRITICAL, HIGH, NORMAL, BACKGROUND', async () => {
  const order = await admissionOrder('priority', { background: priority('background'), normal: {}, critical: priority('CRITICAL'), high: priority('High') })
  expect(order).toEqual(['critical', 'high', 'normal', 'background'])
})

test('priority keeps arrival order among equal priorities', async () => {
  const order = await admissionOrder('priority', { a: priority('3'), b: priority('1'), c: priority('3'), d: priority('1') })
  expect(order).toEqual(['b', 'd', 'a', 'c'])
})

test('slo_aware admits the tightest x-sagellm-deadline-ms first and requests without one last', async () => {
  const order = await admissionOrder('slo_aware', { d30s: deadline(30_000), none: {}, d5s: deadline(5_000), d10s: deadline(10_000) })
  expect(order).toEqual(['d5s', 'd10s', 'd30s', 'none'])
})

test('fifo admits in arrival order whatever the hints say', async () => {
  const order = await admissionOrder('fifo', { first: priority('4'), second: priority('0'), third: deadline(1_000) })
  expect(order).toEqual(['first', 'second', 'third'])
})

test.each(['urgent', '7', '-1', '1.5'])('x-sagellm-priority %p is rejected with 400 naming the header, before any engine is asked', async (value) => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { scheduling: { policy: 'priority' } })
  const error = await ask(gw, 'bad', { headers: priority(value) }).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(BadRequestError)
  const bad = error as BadRequestError
  expect(bad.status).toBe(400)
  expect(bad.param).toBe('x-sagellm-priority')
  expect(bad.code).toBe('invalid_argument')
  expect(bad.message).toContain(value)
  expect(engines.every((e) => e.inference().length === 0)).toBe(true)
})

test.each(['soon', '0', '-5', '2.5'])('x-sagellm-deadline-ms %p is rejected with 400 naming the header', async (value) => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, { scheduling: { policy: 'slo_aware' } })
  const error = await ask(gw, 'bad', { headers: { 'x-sagellm-deadline-ms': value } }).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(BadRequestError)
  expect((error as BadRequestError).param).toBe('x-sagellm-deadline-ms')
  expect(engines.every((e) => e.inference().length === 0)).toBe(true)
})
