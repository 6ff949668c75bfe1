// Prefix-cache locality over a fleet of three real loopback engines: prompts sharing a long system
// prompt go to the engine that served it, different prompts spread, and the load guard moves a prefix
// off its home engine once that engine is loaded well beyond the least-loaded one.
import { afterEach, expect, test } from 'bun:test'
import { ask, countsOf, fire, Fleet, holdAt, lastMessageOf, servedBy } from '../helpers/fleet'
import { waitFor } from '../helpers/wait'

const fleet = new Fleet()
afterEach(() => fleet.cleanup())

const PREFIX_CHARS = 64

const LOCALITY = {
  routing: { strategy: 'locality', locality: { prefix_chars: PREFIX_CHARS, imbalance_abs: 2, imbalance_rel: 2 } },
}

/** A system prompt longer than the prefix key, different for each `name` within its first characters. */
const systemPrompt = (name: string) => [
  { role: 'system' as const, content: `[${name}] You are a careful assistant for the ${name} team. `.repeat(4) },
]

test('requests sharing a long system prompt go to one engine whatever their last message', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, LOCALITY)
  const before = systemPrompt('billing')
  expect(before[0]!.content.length).toBeGreaterThan(PREFIX_CHARS * 2)
  for (let i = 0; i < 9; i++) await ask(gw, `question ${i}: ${'why '.repeat(i)}?`, { before })
  expect(countsOf(engines).sort()).toEqual([0, 0, 9])
})

test('requests whose system prompts differ within the prefix spread over every engine', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, LOCALITY)
  for (let i = 0; i < 12; i++) await ask(gw, `q${i}`, { before: systemPrompt(`team-${i}`) })
  for (const c of countsOf(engines)) expect(c).toBeGreaterThan(0)
})

test('a difference beyond prefix_chars does not split a prefix', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, LOCALITY)
  const base = systemPrompt('search')[0]!.content
  for (let i = 0; i < 6; i++) await ask(gw, `q${i}`, { before: [{ role: 'system', content: `${base} Variant ${i}.` }] })
  expect(countsOf(engines).sort()).toEqual([0, 0, 6])
})

test('the load guard sends a prefix to a less loaded engine once its home carries 2 more requests, and moves its home', async () => {
  const engines = await fleet.engines(3)
  const gw = await fleet.gateway(engines, LOCALITY)
  const gate = fleet.gate()
  for (const e of engines) holdAt(e, gate, (req) => lastMessageOf(req).startsWith('hold'))
  const before = systemPrompt('legal')

  const held1 = fire(ask(gw, 'hold 1', { before }))
  await waitFor(() => gate.held === 1, 3000, 'first request held')
  const home = servedBy(engines, 'hold 1')
  // One request ahead of the others is within the guard: the prefix stays home.
  const held2 = fire(ask(gw, 'hold 2', { before }))
  await waitFor(() => gate.held === 2, 3000, 'second request held')
  expect(servedBy(engines, 'hold 2')).toBe(home)

  // Two ahead (>= imbalance_abs, and >= imbalance_rel times the idle engines' 0): it goes elsewhere.
  await ask(gw, 'free 3', { before })
  const moved = servedBy(engines, 'free 3')
  expect(moved).not.toBe(home)
  // The engine that took it is the prefix's new home.
  await ask(gw, 'free 4', { before })
  expect(servedBy(engines, 'free 4')).toBe(moved)

  gate.open()
  for (const r of await Promise.all([held1.result, held2.result])) expect(r.ok).toBe(true)
})
