// Routing strategies as pure decisions over plain {id, weight, activeRequests} records: load and weight
// handling, smooth round-robin order, consistent-hash affinity and prefix-cache locality.
import { expect, mock, test } from 'bun:test'
import {
  Affinity,
  createStrategy,
  hash32,
  LoadBalanced,
  Locality,
  RandomChoice,
  RoundRobin,
  ROUTING_STRATEGIES,
  type LocalityOptions,
  type RouteRequest,
  type RoutingStrategy,
} from '../../src/control-plane/routing'

interface FakeEngine {
  id: string
  weight: number
  activeRequests: number
}

const engine = (id: string, activeRequests = 0, weight = 1): FakeEngine => ({ id, weight, activeRequests })
const engines = (...ids: string[]) => ids.map((id) => engine(id))
const setLoads = (es: FakeEngine[], loads: number[]) => es.forEach((e, i) => (e.activeRequests = loads[i]!))
const req: RouteRequest = { model: 'm' }
const picks = (s: RoutingStrategy, candidates: FakeEngine[], n: number, request = req) =>
  Array.from({ length: n }, () => s.pick(candidates, request)!.id)
const countOf = (ids: string[]) => ids.reduce<Record<string, number>>((c, id) => ({ ...c, [id]: (c[id] ?? 0) + 1 }), {})
const keys = (n: number) => Array.from({ length: n }, (_, i) => `session-${i}`)
const mapKeys = (s: RoutingStrategy, candidates: FakeEngine[], ks: string[]) =>
  new Map(ks.map((k) => [k, s.pick(candidates, { model: 'm', affinityKey: k })!.id]))

const localityOptions: LocalityOptions = { prefixChars: 8, maxEntries: 3, imbalanceAbs: 4, imbalanceRel: 2 }
const withPrefix = (prefix: string): RouteRequest => ({ model: 'm', prefix: () => prefix })

test('load_balanced picks the fewest requests in flight per unit of weight', () => {
  const candidates = [engine('a', 3), engine('b', 2, 4), engine('c', 1)]
  expect(picks(new LoadBalanced(), candidates, 4)).toEqual(['b', 'b', 'b', 'b'])
})

test('load_balanced rotates round-robin among equally loaded engines across calls', () => {
  expect(picks(new LoadBalanced(), engines('a', 'b', 'c'), 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
})

test('round_robin with weights 3:1 is smooth: a a b a, and b once in every window of four', () => {
  const sequence = picks(new RoundRobin(), [engine('a', 0, 3), engine('b', 0, 1)], 8)
  expect(sequence.slice(0, 4)).toEqual(['a', 'a', 'b', 'a'])
  expect(countOf(sequence)).toEqual({ a: 6, b: 2 })
  for (let i = 0; i + 4 <= sequence.length; i++) expect(sequence.slice(i, i + 4).filter((id) => id === 'b')).toHaveLength(1)
})

test('round_robin with weights 5:1:1 gives the nginx sequence a a b a c a a', () => {
  const candidates = [engine('a', 0, 5), engine('b', 0, 1), engine('c', 0, 1)]
  expect(picks(new RoundRobin(), candidates, 7)).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a'])
})

test('random follows the weights of an injected random source', () => {
  let i = 0
  const evenlySpaced = () => (i++ % 1000 + 0.5) / 1000
  const sequence = picks(new RandomChoice(evenlySpaced), [engine('a', 0, 3), engine('b', 0, 1)], 1000)
  expect(countOf(sequence)).toEqual({ a: 750, b: 250 })
})

test('random maps the ends of the random range to the first and last engine', () => {
  const candidates = engines('a', 'b', 'c')
  expect(new RandomChoice(() => 0).pick(candidates)!.id).toBe('a')
  expect(new RandomChoice(() => 0.999999).pick(candidates)!.id).toBe('c')
})

test('affinity sends the same key to the same engine whatever the loads', () => {
  const candidates = engines('a', 'b', 'c', 'd')
  const affinity = new Affinity()
  const first = mapKeys(affinity, candidates, keys(100))
  candidates.forEach((e, i) => (e.activeRequests = i * 7))
  expect(mapKeys(affinity, candidates, keys(100))).toEqual(first)
})

test('affinity does not depend on the order of the candidates', () => {
  const candidates = engines('a', 'b', 'c', 'd')
  expect(mapKeys(new Affinity(), [...candidates].reverse(), keys(200))).toEqual(mapKeys(new Affinity(), candidates, keys(200)))
})

test('affinity spreads 1000 keys over 4 engines with each taking 15% to 35%', () => {
  const counts = countOf([...mapKeys(new Affinity(), engines('a', 'b', 'c', 'd'), keys(1000)).values()])
  expect(Object.keys(counts).sort()).toEqual(['a', 'b', 'c', 'd'])
  for (const n of Object.values(counts)) {
    expect(n).toBeGreaterThanOrEqual(150)
    expect(n).toBeLessThanOrEqual(350)
  }
})

test('affinity moves only the keys of an engine that leaves the candidates', () => {
  const all = engines('a', 'b', 'c', 'd')
  const affinity = new Affinity()
  const before = mapKeys(affinity, all, keys(1000))
  const after = mapKeys(affinity, all.filter((e) => e.id !== 'c'), keys(1000))
  for (const [key, id] of before) {
    if (id === 'c') expect(after.get(key)).not.toBe('c')
    else expect(after.get(key)).toBe(id)
  }
})

test('affinity restores the original mapping when a removed engine returns', () => {
  const all = engines('a', 'b', 'c', 'd')
  const affinity = new Affinity()
  const before = mapKeys(affinity, all, keys(1000))
  mapKeys(affinity, all.filter((e) => e.id !== 'c'), keys(1000))
  expect(mapKeys(affinity, all, keys(1000))).toEqual(before)
})

test('affinity without a key falls back to the least-loaded engine', () => {
  const candidates = [engine('a', 3), engine('b', 0), engine('c', 2)]
  expect(picks(new Affinity(), candidates, 3)).toEqual(['b', 'b', 'b'])
})

test('locality returns a prefix to the engine that served it', () => {
  const candidates = engines('a', 'b', 'c')
  const locality = new Locality(localityOptions)
  const home = locality.pick(candidates, withPrefix('system: you are helpful'))!
  home.activeRequests += 2
  expect(picks(locality, candidates, 3, withPrefix('system: you are helpful'))).toEqual([home.id, home.id, home.id])
})

test('locality spreads new prefixes by load', () => {
  const candidates = engines('a', 'b', 'c')
  const locality = new Locality({ ...localityOptions, maxEntries: 100 })
  const chosen = ['prompt-1', 'prompt-2', 'prompt-3'].map((p) => {
    const e = locality.pick(candidates, withPrefix(p))!
    e.activeRequests++
    return e.id
  })
  expect(chosen.sort()).toEqual(['a', 'b', 'c'])
})

test('locality sends a prefix to the least-loaded engine when its home is overloaded, and moves its home', () => {
  const [a, b] = engines('a', 'b')
  const locality = new Locality(localityOptions)
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  a.activeRequests = 6
  b.activeRequests = 1
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('b')
  a.activeRequests = 0
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('b')
})

test('locality keeps the home when only one of the absolute and relative imbalance limits is reached', () => {
  const [a, b] = engines('a', 'b')
  const locality = new Locality(localityOptions)
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  setLoads([a, b], [5, 2])
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  setLoads([a, b], [9, 5])
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
})

test('locality never remembers more than maxEntries prefixes', () => {
  const locality = new Locality(localityOptions)
  for (let i = 0; i < 50; i++) {
    locality.pick(engines('a', 'b'), withPrefix(`prompt-${i}`))
    expect(locality.size).toBeLessThanOrEqual(localityOptions.maxEntries)
  }
  expect(locality.size).toBe(localityOptions.maxEntries)
})

test('locality forgets the least recently used prefix, and using a prefix keeps it', () => {
  const [a, b] = engines('a', 'b')
  const locality = new Locality({ ...localityOptions, maxEntries: 2 })
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  a.activeRequests = 1
  expect(locality.pick([a, b], withPrefix('prompt-2'))!.id).toBe('b')
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  locality.pick([a, b], withPrefix('prompt-3'))
  expect(locality.pick([a, b], withPrefix('prompt-1'))!.id).toBe('a')
  setLoads([a, b], [0, 1])
  expect(locality.pick([a, b], withPrefix('prompt-2'))!.id).toBe('a')
})

test('locality keys on the first prefixChars characters only', () => {
  const [a, b] = engines('a', 'b')
  const locality = new Locality(localityOptions)
  expect(locality.pick([a, b], withPrefix('abcdefgh-first'))!.id).toBe('a')
  a.activeRequests = 1
  expect(locality.pick([a, b], withPrefix('abcdefgh-second'))!.id).toBe('a')
  expect(locality.pick([a, b], withPrefix('abcdefgX-first'))!.id).toBe('b')
})

test('only the locality strategy computes the prompt prefix', () => {
  for (const name of ROUTING_STRATEGIES) {
    const prefix = mock(() => 'prompt')
    createStrategy(name, localityOptions).pick(engines('a', 'b'), { model: 'm', affinityKey: 'k', prefix })
    expect({ name, calls: prefix.mock.calls.length }).toEqual({ name, calls: name === 'locality' ? 1 : 0 })
  }
})

test('createStrategy builds the strategy of each name', () => {
  const classes = { load_balanced: LoadBalanced, round_robin: RoundRobin, random: RandomChoice, affinity: Affinity, locality: Locality }
  for (const name of ROUTING_STRATEGIES) {
    const strategy = createStrategy(name, localityOptions)
    expect(strategy.name).toBe(name)
    expect(strategy).toBeInstanceOf(classes[name])
  }
})

test('every strategy returns undefined for no candidates and the only one for one', () => {
  for (const name of ROUTING_STRATEGIES) {
    const strategy = createStrategy(name, localityOptions)
    const request = { model: 'm', affinityKey: 'k', prefix: () => 'p' }
    expect(strategy.pick([], request)).toBeUndefined()
    expect(strategy.pick(engines('a'), request)!.id).toBe('a')
  }
})

test('hash32 is deterministic and gives unsigned 32-bit values', () => {
  for (const text of ['', 'a', 'session-1', 'x'.repeat(1000)]) {
    const h = hash32(text)
    expect(hash32(text)).toBe(h)
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true)
  }
})

test('hash32 spreads sequential keys evenly over buckets and flips about half the bits per changed character', () => {
  const buckets = new Array<number>(16).fill(0)
  let flipped = 0
  for (let i = 0; i < 16_000; i++) {
    buckets[hash32(`key-${i}`) % 16]!++
    flipped += popcount(hash32(`key-${i}`) ^ hash32(`key-${i + 1}`))
  }
  for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150)
  expect(flipped / 16_000).toBeGreaterThan(14)
  expect(flipped / 16_000).toBeLessThan(18)
})

function popcount(x: number): number {
  let n = 0
  for (let v = x >>> 0; v; v &= v - 1) n++
  return n
}
