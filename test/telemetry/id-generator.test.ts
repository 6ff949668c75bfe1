// Trace and span ids from the random pool: W3C-shaped (32 and 16 lowercase hex digits), distinct across
// pool refills, and never all zeros, even when the random source hands out zero bytes.
import { expect, spyOn, test } from 'bun:test'
import { PooledIdGenerator } from '../../src/telemetry/id-generator'

test('ids are lowercase hex of the W3C lengths and do not repeat across pool refills', () => {
  const ids = new PooledIdGenerator()
  const seen = new Set<string>()
  // 4 KiB a pool: 2 000 trace ids and 2 000 span ids take several refills.
  for (let i = 0; i < 2000; i++) {
    const traceId = ids.generateTraceId()
    const spanId = ids.generateSpanId()
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(spanId).toMatch(/^[0-9a-f]{16}$/)
    seen.add(traceId).add(spanId)
  }
  expect(seen.size).toBe(4000)
})

test('an all-zero id is skipped: zero bytes from the random source never make an invalid id', () => {
  let calls = 0
  const real = crypto.getRandomValues.bind(crypto)
  const spy = spyOn(crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
    // The first fill is all zeros (every id in it is invalid); the next ones are random.
    if (calls++ === 0 && array) new Uint8Array(array.buffer, array.byteOffset, array.byteLength).fill(0)
    else real(array as unknown as Uint8Array)
    return array
  })
  try {
    const ids = new PooledIdGenerator()
    expect(ids.generateSpanId()).not.toBe('0000000000000000')
    expect(ids.generateTraceId()).not.toBe('00000000000000000000000000000000')
    expect(calls).toBe(2)
  } finally {
    spy.mockRestore()
  }
})
