// The admission queue in front of saturated engines: 429s for a full queue and for a wait that times
// out, wake-ups that go only to requests able to use the freed engine, the order of each scheduling
// policy, and client disconnects.
import { expect, test } from 'bun:test'
import { AdmissionQueue, type Admission, type SchedulingPolicy } from '../../src/control-plane/admission-queue'
import { ClientGone } from '../../src/engines/engine-client'
import { ApiError } from '../../src/errors'

const LONG_MS = 10_000

interface Waiter {
  readonly promise: Promise<string>
  readonly abort: () => void
}

function enqueue(queue: AdmissionQueue, admission: Partial<Omit<Admission, 'signal'>> = {}): Waiter {
  const controller = new AbortController()
  const promise = queue.wait({ priority: 2, wants: () => true, ...admission, signal: controller.signal })
  return { promise, abort: () => controller.abort() }
}

/** Enqueues one waiter per admission, wakes them all and returns the indexes in wake-up order. */
async function wakeOrder(policy: SchedulingPolicy, admissions: Partial<Omit<Admission, 'signal'>>[]): Promise<number[]> {
  const queue = new AdmissionQueue(policy, admissions.length, LONG_MS)
  const order: number[] = []
  const waiters = admissions.map((a, i) => enqueue(queue, a).promise.then(() => order.push(i)))
  for (let i = 0; i < admissions.length; i++) queue.release('e1')
  await Promise.all(waiters)
  return order
}

function expectExhausted(error: unknown): void {
  expect(error).toBeInstanceOf(ApiError)
  const apiError = error as ApiError
  expect(apiError.httpStatus).toBe(429)
  expect(apiError.errorCode).toBe('resource_exhausted')
  expect(apiError.headers['retry-after']).toMatch(/^[1-9]\d*$/)
}

test('a full queue rejects at once with 429 resource_exhausted and Retry-After', async () => {
  const queue = new AdmissionQueue('fifo', 1, LONG_MS)
  const first = enqueue(queue)
  const error = await enqueue(queue).promise.catch((e: unknown) => e)
  expectExhausted(error)
  expect(queue.depth).toBe(1)
  first.abort()
  await first.promise.catch(() => {})
})

test('a wait longer than the timeout rejects with 429 resource_exhausted and leaves the queue', async () => {
  const queue = new AdmissionQueue('fifo', 4, 20)
  const error = await enqueue(queue).promise.catch((e: unknown) => e)
  expectExhausted(error)
  expect(queue.depth).toBe(0)
})

test('a freed slot wakes only a request that can use that engine, resolving with its id', async () => {
  const queue = new AdmissionQueue('fifo', 4, LONG_MS)
  let wantsA = false
  const onA = enqueue(queue, { wants: (id) => id === 'a' })
  onA.promise.then(() => (wantsA = true))
  const onB = enqueue(queue, { wants: (id) => id === 'b' })
  expect(queue.release('b')).toBe(true)
  expect(await onB.promise).toBe('b')
  expect(wantsA).toBe(false)
  expect(queue.depth).toBe(1)
  queue.release('a')
  expect(await onA.promise).toBe('a')
  expect(queue.depth).toBe(0)
})

test('a freed slot nobody can use wakes nobody', async () => {
  const queue = new AdmissionQueue('fifo', 4, LONG_MS)
  const waiter = enqueue(queue, { wants: (id) => id === 'a' })
  expect(queue.release('b')).toBe(false)
  expect(queue.depth).toBe(1)
  waiter.abort()
  await waiter.promise.catch(() => {})
})

test('fifo wakes in arrival order whatever the priorities and deadlines', async () => {
  const order = await wakeOrder('fifo', [{ priority: 4 }, { priority: 0, deadlineAt: 1 }, { priority: 2 }])
  expect(order).toEqual([0, 1, 2])
})

test('priority wakes the lowest priority number first, equal priorities in arrival order', async () => {
  const order = await wakeOrder('priority', [{ priority: 2 }, { priority: 0 }, { priority: 2 }, { priority: 1 }, { priority: 0 }])
  expect(order).toEqual([1, 4, 3, 0, 2])
})

test('slo_aware wakes the earliest deadline first and requests without a deadline last', async () => {
  const order = await wakeOrder('slo_aware', [{}, { deadlineAt: 300 }, { deadlineAt: 100 }, {}, { deadlineAt: 200 }])
  expect(order).toEqual([2, 4, 1, 0, 3])
})

test('a client that goes away rejects its wait with ClientGone and leaves the queue', async () => {
  const queue = new AdmissionQueue('fifo', 4, LONG_MS)
  const staying = enqueue(queue)
  const leaving = enqueue(queue)
  expect(queue.depth).toBe(2)
  leaving.abort()
  expect(await leaving.promise.catch((e: unknown) => e)).toBeInstanceOf(ClientGone)
  expect(queue.depth).toBe(1)
  queue.release('e1')
  await staying.promise
})

test('a client already gone when it arrives is rejected with ClientGone and never queued', async () => {
  const queue = new AdmissionQueue('fifo', 4, LONG_MS)
  const controller = new AbortController()
  controller.abort()
  const promise = queue.wait({ priority: 2, wants: () => true, signal: controller.signal })
  expect(queue.depth).toBe(0)
  expect(await promise.catch((e: unknown) => e)).toBeInstanceOf(ClientGone)
})
