// The engine request capacity the start-up log reports: Bun's own default unless the variable is a
// positive integer; and running from source never re-executes (only the compiled executable does).
import { expect, test } from 'bun:test'
import { BUN_DEFAULT_FETCH_CAPACITY, FETCH_CAPACITY_ENV, fetchCapacity, isCompiled, raiseFetchCapacity } from '../src/fetch-capacity'

test('without the variable, or with a value that is not a positive integer, Bun queues beyond 256', () => {
  expect(fetchCapacity({})).toBe(BUN_DEFAULT_FETCH_CAPACITY)
  for (const bad of ['', 'lots', '-5', '0', '1.5']) expect(fetchCapacity({ [FETCH_CAPACITY_ENV]: bad })).toBe(256)
})

test('a positive integer is the capacity', () => {
  expect(fetchCapacity({ [FETCH_CAPACITY_ENV]: '4096' })).toBe(4096)
})

test('from source, raising the capacity is left to the environment (no re-execution)', () => {
  expect(isCompiled()).toBe(false)
  const pid = process.pid
  raiseFetchCapacity()
  expect(process.pid).toBe(pid)
})
