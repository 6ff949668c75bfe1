import { expect, test } from 'bun:test'
import { Engine } from '../../src/control-plane/engine-registry'
import { EnginePicker } from '../../src/control-plane/pick-engine'

const make = (id: string, active = 0) => {
  const e = new Engine({ id, baseUrl: `http://${id}/v1`, kind: 'llm', fetch })
  e.activeRequests = active
  return e
}
const req = { model: 'm' }

test('the engine with the fewest requests in flight wins', () => {
  const engines = [make('a', 3), make('b', 1), make('c', 2)]
  const picker = new EnginePicker()
  for (let i = 0; i < 5; i++) expect(picker.pickEngine(engines, req, new Set())!.id).toBe('b')
})

test('ties rotate round-robin', () => {
  const engines = [make('a'), make('b'), make('c')]
  const picker = new EnginePicker()
  const picks = Array.from({ length: 6 }, () => picker.pickEngine(engines, req, new Set())!.id)
  expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
})

test('engines already tried for this request are skipped; none left gives undefined', () => {
  const [a, b] = [make('a'), make('b', 5)]
  const picker = new EnginePicker()
  expect(picker.pickEngine([a, b], req, new Set([a]))).toBe(b)
  expect(picker.pickEngine([a, b], req, new Set([a, b]))).toBeUndefined()
  expect(picker.pickEngine([], req, new Set())).toBeUndefined()
})
