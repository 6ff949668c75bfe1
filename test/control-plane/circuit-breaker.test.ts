// The per-engine circuit breaker driven by an injected clock: opening on consecutive failures,
// blocking while open, and the single half-open probe that closes or re-opens it.
import { expect, test } from 'bun:test'
import { CircuitBreaker } from '../../src/control-plane/circuit-breaker'

const THRESHOLD = 3
const COOLDOWN_MS = 1000

function breaker() {
  const clock = { now: 0 }
  return { clock, cb: new CircuitBreaker(THRESHOLD, COOLDOWN_MS, () => clock.now) }
}

const fail = (cb: CircuitBreaker, times: number) => {
  for (let i = 0; i < times; i++) cb.onFailure()
}

function halfOpen() {
  const b = breaker()
  fail(b.cb, THRESHOLD)
  b.clock.now += COOLDOWN_MS
  return b
}

test('stays closed until threshold consecutive failures, then opens', () => {
  const { cb } = breaker()
  fail(cb, THRESHOLD - 1)
  expect(cb.state).toBe('closed')
  expect(cb.allows()).toBe(true)
  cb.onFailure()
  expect(cb.state).toBe('open')
})

test('a success resets the consecutive failure count', () => {
  const { cb } = breaker()
  fail(cb, THRESHOLD - 1)
  cb.onSuccess()
  fail(cb, THRESHOLD - 1)
  expect(cb.state).toBe('closed')
})

test('an open breaker blocks requests until the cooldown has passed', () => {
  const { cb, clock } = breaker()
  fail(cb, THRESHOLD)
  expect(cb.allows()).toBe(false)
  clock.now += COOLDOWN_MS - 1
  expect(cb.allows()).toBe(false)
  expect(cb.state).toBe('open')
})

test('after the cooldown it is half-open and lets exactly one probe through', () => {
  const { cb } = halfOpen()
  expect(cb.state).toBe('half_open')
  expect(cb.allows()).toBe(true)
  cb.onDispatch()
  expect(cb.allows()).toBe(false)
  expect(cb.state).toBe('half_open')
})

test('a successful probe closes the breaker and failures count from zero again', () => {
  const { cb } = halfOpen()
  cb.onDispatch()
  cb.onSuccess()
  expect(cb.state).toBe('closed')
  expect(cb.allows()).toBe(true)
  fail(cb, THRESHOLD - 1)
  expect(cb.state).toBe('closed')
})

test('a failed probe re-opens the breaker for another full cooldown', () => {
  const { cb, clock } = halfOpen()
  cb.onDispatch()
  cb.onFailure()
  expect(cb.state).toBe('open')
  clock.now += COOLDOWN_MS - 1
  expect(cb.allows()).toBe(false)
  clock.now += 1
  expect(cb.state).toBe('half_open')
  expect(cb.allows()).toBe(true)
})

test('an abandoned probe frees the slot for another probe', () => {
  const { cb } = halfOpen()
  cb.onDispatch()
  cb.onAbandon()
  expect(cb.allows()).toBe(true)
  cb.onDispatch()
  expect(cb.allows()).toBe(false)
})

test('dispatching while closed does not limit later requests', () => {
  const { cb } = breaker()
  cb.onDispatch()
  cb.onDispatch()
  expect(cb.allows()).toBe(true)
})
