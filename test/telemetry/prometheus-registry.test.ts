// The registry's own bookkeeping: a series per distinct set of label values, however alike they look,
// rendered in the order first seen and read back by `get`.
import { expect, test } from 'bun:test'
import { MetricsRegistry } from '../../src/telemetry/prometheus'
import { parsePrometheus, sampleValue } from '../helpers/prometheus-text'

test('label sets that share a prefix, hold empty values or the old key separator are separate series', () => {
  const registry = new MetricsRegistry()
  const c = registry.counter('t_total', 'test', ['a', 'b'])
  c.inc(['x', 'y'])
  c.inc(['x', 'z'], 2)
  c.inc(['x', ''], 3)
  c.inc(['x\u0001y', 'z'], 4)
  c.inc(['x', 'y\u0001z'], 5)
  c.inc(['x', 'y'], 10)
  expect([c.get(['x', 'y']), c.get(['x', 'z']), c.get(['x', '']), c.get(['x\u0001y', 'z']), c.get(['x', 'y\u0001z']), c.get(['x', 'q'])]).toEqual([11, 2, 3, 4, 5, 0])
  expect(c.total()).toBe(25)
  const text = registry.render()
  expect(text.split('\n').filter((l) => l.startsWith('t_total'))).toEqual([
    't_total{a="x",b="y"} 11',
    't_total{a="x",b="z"} 2',
    't_total{a="x",b=""} 3',
    't_total{a="x\u0001y",b="z"} 4',
    't_total{a="x",b="y\u0001z"} 5',
  ])
})

test('a metric without labels has one series, and histograms keep one per label set', () => {
  const registry = new MetricsRegistry()
  const plain = registry.counter('plain_total', 'test')
  plain.inc()
  plain.inc([], 2)
  expect(plain.get()).toBe(3)
  const h = registry.histogram('h_seconds', 'test', ['op', 'model'], [0.1, 1])
  h.observe(['chat', 'm'], 0.05)
  h.observe(['chat', 'm'], 0.5)
  h.observe(['chat', 'n'], 2)
  const families = parsePrometheus(registry.render())
  expect(sampleValue(families, 'plain_total', {})).toBe(3)
  expect(sampleValue(families, 'h_seconds_count', { op: 'chat', model: 'm' })).toBe(2)
  expect(sampleValue(families, 'h_seconds_bucket', { op: 'chat', model: 'm', le: '0.1' })).toBe(1)
  expect(sampleValue(families, 'h_seconds_bucket', { op: 'chat', model: 'n', le: '1' })).toBe(0)
  expect(sampleValue(families, 'h_seconds_count', { op: 'chat', model: 'n' })).toBe(1)
})

test("a histogram's last label given apart from the others finds the same series as the whole list", () => {
  const registry = new MetricsRegistry()
  const h = registry.histogram('tokens', 'test', ['op', 'model', 'type'], [10, 100])
  const base = ['chat', 'm'] as const
  h.observe(base, 5, 'input')
  h.observe(['chat', 'm', 'input'], 50)
  h.observe(base, 500, 'output')
  const families = parsePrometheus(registry.render())
  expect(sampleValue(families, 'tokens_count', { op: 'chat', model: 'm', type: 'input' })).toBe(2)
  expect(sampleValue(families, 'tokens_sum', { op: 'chat', model: 'm', type: 'input' })).toBe(55)
  expect(sampleValue(families, 'tokens_count', { op: 'chat', model: 'm', type: 'output' })).toBe(1)
  expect(base).toEqual(['chat', 'm'])
})
