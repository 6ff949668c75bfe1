// The engine call's deadline: silence while waiting on the engine aborts it, time the client holds
// the stream does not, and the client's abort and the gateway's shutdown abort it with their own reasons.
import { expect, test } from 'bun:test'
import type { CallSignal } from '../../src/engines/engine-client'
import { CLIENT_WATCH_AFTER_MS, Deadline } from '../../src/proxy/deadline'
import { InflightTracker } from '../../src/proxy/inflight'

/** Resolves with the time the deadline aborted at, or undefined if it did not within `withinMs`. */
function abortedWithin(signal: CallSignal, withinMs: number): Promise<number | undefined> {
  if (signal.aborted) return Promise.resolve(performance.now())
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), withinMs)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve(performance.now())
    })
  })
}

test('waiting on a silent engine aborts after the period, with a reason naming it', async () => {
  const started = performance.now()
  const deadline = new Deadline(40)
  const at = await abortedWithin(deadline, 2000)
  expect(at).toBeDefined()
  expect(at! - started).toBeGreaterThanOrEqual(39)
  expect((deadline.reason as Error).message).toBe('the engine sent nothing for 0.04 s')
})

test('time spent disarmed (the client reading slowly) never aborts', async () => {
  const deadline = new Deadline(30)
  deadline.disarm()
  expect(await abortedWithin(deadline, 120)).toBeUndefined()
  deadline.clear()
})

test('each arm starts a full period from then', async () => {
  const deadline = new Deadline(60)
  // Re-armed every 20 ms for 200 ms: never 60 ms of silence in a row.
  for (let i = 0; i < 10; i++) {
    await Bun.sleep(20)
    deadline.disarm()
    deadline.arm()
  }
  expect(deadline.aborted).toBe(false)
  const armedAt = performance.now()
  const at = await abortedWithin(deadline, 2000)
  expect(at! - armedAt).toBeGreaterThanOrEqual(59)
})

test("the client's abort, once the client is watched, aborts the call at once with the client's reason", async () => {
  const client = new AbortController()
  const deadline = new Deadline(60_000, client.signal)
  await Bun.sleep(CLIENT_WATCH_AFTER_MS + 30)
  expect(deadline.aborted).toBe(false)
  const reason = new Error('client went away')
  client.abort(reason)
  expect(deadline.aborted).toBe(true)
  expect(deadline.reason).toBe(reason)
  deadline.clear()
})

test('a client gone before the call aborts it at once; one gone before the watch starts is noticed when it starts', async () => {
  const gone = new AbortController()
  gone.abort(new Error('gone already'))
  const early = new Deadline(60_000, gone.signal)
  expect((early.reason as Error).message).toBe('gone already')
  early.clear()
  const client = new AbortController()
  const started = performance.now()
  const deadline = new Deadline(60_000, client.signal)
  client.abort(new Error('left at once'))
  const at = await abortedWithin(deadline, 2000)
  expect(at! - started).toBeLessThan(CLIENT_WATCH_AFTER_MS + 500)
  expect((deadline.reason as Error).message).toBe('left at once')
  deadline.clear()
})

test("a call over before the watch starts never listens to the client's signal; a longer one listens once and lets go", async () => {
  const calls: string[] = []
  const client = {
    aborted: false,
    reason: undefined,
    addEventListener: () => calls.push('add'),
    removeEventListener: () => calls.push('remove'),
  } as unknown as AbortSignal
  const quick = new Deadline(60_000, client)
  quick.clear()
  await Bun.sleep(CLIENT_WATCH_AFTER_MS + 30)
  expect(calls).toEqual([])
  const long = new Deadline(60_000, client)
  long.disarm()
  await Bun.sleep(CLIENT_WATCH_AFTER_MS + 30)
  expect(calls).toEqual(['add'])
  long.clear()
  expect(calls).toEqual(['add', 'remove'])
})

test('a cleared deadline neither times out nor follows the client', async () => {
  const client = new AbortController()
  const deadline = new Deadline(20, client.signal)
  deadline.clear()
  client.abort()
  expect(await abortedWithin(deadline, 80)).toBeUndefined()
})

test('a deadline cleared after the client is watched lets go of the client: its later abort aborts nothing', async () => {
  const client = new AbortController()
  const deadline = new Deadline(60_000, client.signal)
  await Bun.sleep(CLIENT_WATCH_AFTER_MS + 30)
  deadline.clear()
  client.abort(new Error('left after the answer'))
  expect(deadline.aborted).toBe(false)
})

test('the abort runs each listener still registered once, past one that throws, whose error it throws after; abort() without a reason gives an AbortError', () => {
  const deadline = new Deadline(60_000)
  const ran: string[] = []
  const second = () => ran.push('second')
  const third = () => ran.push('third')
  deadline.addEventListener('abort', () => {
    ran.push('first')
    deadline.removeEventListener('abort', second)
  })
  deadline.addEventListener('abort', second)
  deadline.addEventListener('abort', () => {
    throw new Error('a listener failed')
  })
  deadline.addEventListener('abort', third)
  deadline.addEventListener('abort', third)
  // The failing listener's error reaches the aborter once every other listener has run.
  expect(() => deadline.abort(undefined)).toThrow('a listener failed')
  expect(ran).toEqual(['first', 'third'])
  expect((deadline.reason as DOMException).name).toBe('AbortError')
  deadline.clear()
})

test('abortAll at shutdown aborts every live call, and calls started after it at once', () => {
  const inflight = new InflightTracker()
  const client = new AbortController()
  const live = inflight.deadline(60_000, client.signal)
  const finished = inflight.deadline(60_000, client.signal)
  finished.clear()
  inflight.abortAll('draining took too long')
  expect(inflight.aborted).toBe(true)
  expect((live.reason as Error).message).toBe('draining took too long')
  expect(finished.aborted).toBe(false)
  const late = inflight.deadline(60_000, client.signal)
  expect((late.reason as Error).message).toBe('draining took too long')
  live.clear()
  late.clear()
})

test('deadlines of one length each expire on their own time, re-armed ones later', async () => {
  const started = performance.now()
  const first = new Deadline(50)
  await Bun.sleep(20)
  const second = new Deadline(50)
  const rearmed = new Deadline(50)
  await Bun.sleep(20)
  // Re-armed 40 ms in: due at 90 ms, after `second` (70 ms) though it started with it.
  rearmed.arm()
  const cleared = new Deadline(50)
  cleared.clear()
  const [a, b, c] = await Promise.all([first, second, rearmed].map((d) => abortedWithin(d, 2000)))
  expect(a! - started).toBeGreaterThanOrEqual(49)
  expect(b! - started).toBeGreaterThanOrEqual(69)
  expect(c! - started).toBeGreaterThanOrEqual(89)
  expect(a!).toBeLessThan(b!)
  expect(b!).toBeLessThan(c!)
  expect(cleared.aborted).toBe(false)
})

test('a cleared or disarmed deadline delays none started after it; other lengths keep their own times', async () => {
  const started = performance.now()
  const head = new Deadline(40)
  const quiet = new Deadline(40)
  const behind = new Deadline(40)
  const short = new Deadline(15)
  head.clear()
  quiet.disarm()
  const [b, s] = await Promise.all([abortedWithin(behind, 2000), abortedWithin(short, 2000)])
  expect(s! - started).toBeGreaterThanOrEqual(14)
  expect(s!).toBeLessThan(b!)
  expect(b! - started).toBeGreaterThanOrEqual(39)
  expect(b! - started).toBeLessThan(1000)
  expect(head.aborted || quiet.aborted).toBe(false)
  quiet.clear()
})

test('the gateway engine client listens to the deadline itself: a listener runs once, with the reason set; one removed never runs', () => {
  const deadline = new Deadline(60_000)
  const heard: unknown[] = []
  const kept = () => heard.push(deadline.reason)
  const removed = () => heard.push('removed')
  deadline.addEventListener('abort', kept)
  deadline.addEventListener('abort', removed)
  deadline.removeEventListener('abort', removed)
  const reason = new Error('shutdown')
  deadline.abort(reason)
  deadline.abort(new Error('again'))
  expect(heard).toEqual([reason])
  expect(deadline.aborted).toBe(true)
  // Added after the abort: never called, as with an AbortSignal.
  deadline.addEventListener('abort', removed)
  expect(heard).toEqual([reason])
  deadline.clear()
})

test('abortAll aborts every call even past one whose listener throws, and throws that error after', () => {
  const inflight = new InflightTracker()
  const client = new AbortController()
  const failing = inflight.deadline(60_000, client.signal)
  const other = inflight.deadline(60_000, client.signal)
  failing.addEventListener('abort', () => {
    throw new Error('listener failed')
  })
  expect(() => inflight.abortAll('draining took too long')).toThrow('listener failed')
  expect(failing.aborted && other.aborted).toBe(true)
  expect((other.reason as Error).message).toBe('draining took too long')
  failing.clear()
  other.clear()
})
