// The per-key limiter as pure logic on a fake clock: the sliding window's arithmetic, admission,
// settlement, the 429s it throws and the headers it reports.
import { describe, expect, test } from 'bun:test'
import { duration, RateLimiter, SlidingWindow } from '../../src/auth/rate-limiter'
import { ApiError } from '../../src/errors'

const limits = (l: { rpm?: number; tpm?: number; maxConcurrency?: number }) => ({ rpm: l.rpm ?? null, tpm: l.tpm ?? null, maxConcurrency: l.maxConcurrency ?? null })

function refused(fn: () => unknown): ApiError {
  try {
    fn()
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('expected a 429')
}

describe('SlidingWindow', () => {
  test('holds what was added for 61 seconds from the start of its second, then forgets it', () => {
    const w = new SlidingWindow()
    w.add(10_500, 3)
    expect(w.used(10_500)).toBe(3)
    expect(w.used(70_999)).toBe(3)
    expect(w.used(71_000)).toBe(0)
  })

  test('sums buckets of different seconds and reuses a slot once its second is gone', () => {
    const w = new SlidingWindow()
    w.add(0, 1)
    w.add(30_000, 2)
    expect(w.used(60_000)).toBe(3)
    w.add(61_000, 5) // the slot of second 0
    expect(w.used(61_000)).toBe(7)
  })

  test('msUntilRoom is the time until enough of the oldest buckets leave', () => {
    const w = new SlidingWindow()
    w.add(0, 2)
    w.add(10_000, 2)
    expect(w.msUntilRoom(20_000, 5, 1)).toBe(0)
    expect(w.msUntilRoom(20_000, 4, 1)).toBe(61_000 - 20_000)
    expect(w.msUntilRoom(20_000, 4, 3)).toBe(71_000 - 20_000)
  })

  test('adjust changes a live bucket, never below zero, and ignores one that left', () => {
    const w = new SlidingWindow()
    const second = w.add(1_000, 10)
    w.adjust(second, -4)
    expect(w.used(1_000)).toBe(6)
    w.adjust(second, -100)
    expect(w.used(1_000)).toBe(0)
    w.adjust(second, 50)
    expect(w.used(1_000)).toBe(50)
    w.add(63_000, 1) // second 62 takes slot 1 again
    w.adjust(second, 1000)
    expect(w.used(63_000)).toBe(1)
  })
})

describe('RateLimiter', () => {
  test('rpm admits exactly the limit within the window, then again once the window has moved on', () => {
    let now = 5_000
    const limiter = new RateLimiter(() => now)
    for (let i = 0; i < 3; i++) limiter.admit('k', limits({ rpm: 3 }), 0)
    const error = refused(() => limiter.admit('k', limits({ rpm: 3 }), 0))
    expect(error.httpStatus).toBe(429)
    expect(error.errorCode).toBe('rate_limit_exceeded')
    expect(error.headers['retry-after']).toBe('61')
    expect(error.headers['x-ratelimit-remaining-requests']).toBe('0')
    now = 66_000
    expect(() => limiter.admit('k', limits({ rpm: 3 }), 0)).not.toThrow()
  })

  test('a refused request takes nothing: the counters are as before it', () => {
    const limiter = new RateLimiter(() => 0)
    limiter.admit('k', limits({ rpm: 10, tpm: 100 }), 90)
    refused(() => limiter.admit('k', limits({ rpm: 10, tpm: 100 }), 20))
    const admitted = limiter.admit('k', limits({ rpm: 10, tpm: 100 }), 10)
    expect(admitted.headers['x-ratelimit-remaining-requests']).toBe('8')
    expect(admitted.headers['x-ratelimit-remaining-tokens']).toBe('0')
  })

  test('settling gives back what a request reserved beyond its real usage', () => {
    const limiter = new RateLimiter(() => 0)
    const first = limiter.admit('k', limits({ tpm: 100 }), 80)
    refused(() => limiter.admit('k', limits({ tpm: 100 }), 30))
    first.settle(20)
    expect(limiter.admit('k', limits({ tpm: 100 }), 30).headers['x-ratelimit-remaining-tokens']).toBe('50')
  })

  test('a request larger than tpm by itself is refused whatever the window holds, saying so', () => {
    const error = refused(() => new RateLimiter(() => 0).admit('k', limits({ tpm: 100 }), 101))
    expect(error.message).toContain('more than this key\'s 100 tokens per minute')
  })

  test('max_concurrency counts admissions until they settle; settling twice frees one slot', () => {
    const limiter = new RateLimiter(() => 0)
    const a = limiter.admit('k', limits({ maxConcurrency: 2 }), 0)
    limiter.admit('k', limits({ maxConcurrency: 2 }), 0)
    expect(refused(() => limiter.admit('k', limits({ maxConcurrency: 2 }), 0)).message).toContain('2 in flight')
    a.settle(undefined)
    a.settle(undefined)
    limiter.admit('k', limits({ maxConcurrency: 2 }), 0)
    refused(() => limiter.admit('k', limits({ maxConcurrency: 2 }), 0))
  })

  test('keys are counted apart', () => {
    const limiter = new RateLimiter(() => 0)
    limiter.admit('a', limits({ rpm: 1 }), 0)
    expect(() => limiter.admit('b', limits({ rpm: 1 }), 0)).not.toThrow()
  })
})

test('durations are written as OpenAI writes them', () => {
  expect(duration(0)).toBe('0s')
  expect(duration(250)).toBe('250ms')
  expect(duration(1000)).toBe('1s')
  expect(duration(59_001)).toBe('1m0s')
  expect(duration(361_000)).toBe('6m1s')
})

test('usage beyond the reservation is charged when the answer ends, even after the admission second left the window', () => {
  let now = 0
  const limiter = new RateLimiter(() => now)
  const long = limiter.admit('k', limits({ tpm: 1000 }), 10)
  now = 70_000 // a 70-second stream: its admission second is out of the window
  long.settle(900)
  expect(refused(() => limiter.admit('k', limits({ tpm: 1000 }), 200)).errorCode).toBe('rate_limit_exceeded')
  expect(() => limiter.admit('k', limits({ tpm: 1000 }), 100)).not.toThrow()
})
