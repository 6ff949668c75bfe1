// Micro-benchmark of one routing decision per strategy over 64 engines (target: a few microseconds
// per request). Run with `bun bench/routing.bench.ts`; prints a Markdown table of ns per pick.
import { DEFAULTS } from '../src/config'
import { createStrategy, type RouteRequest, type Routable, type RoutingStrategyName } from '../src/control-plane/routing'

const ENGINES = 64
const PICKS_PER_RUN = 200_000
const RUNS = 7
const WARMUP_PICKS = 20_000
const CAP_NS_PER_ROW = 5e9
const PROMPTS = 2000
const PROMPT_CHARS = 2048
const AFFINITY_KEYS = 10_000

/** A registry engine as the router sees it, plus the fields the gateway filters candidates on. */
interface BenchEngine extends Routable {
  readonly model: string
  readonly healthy: boolean
  readonly maxConcurrency: number
  activeRequests: number
}

const engines: BenchEngine[] = Array.from({ length: ENGINES }, (_, i) => ({
  id: `engine-${String(i).padStart(2, '0')}`,
  weight: 1 + (i % 4),
  activeRequests: (i * 7) % 13,
  model: i % 8 === 7 ? 'other-model' : 'llama-3-8b',
  healthy: i % 16 !== 5,
  maxConcurrency: 10 + (i % 5),
}))

const affinityRequests: RouteRequest[] = Array.from({ length: AFFINITY_KEYS }, (_, i) => ({
  model: 'llama-3-8b',
  affinityKey: `session-${i.toString(36)}-${(i * 2654435761) >>> 0}`,
}))

// Eight shared system prompts followed by a distinct user turn: distinct within the first 512 characters.
const systemPrompts = Array.from({ length: 8 }, (_, s) => `System ${s}: you are a careful assistant. `.repeat(8))
const localityRequests: RouteRequest[] = Array.from({ length: PROMPTS }, (_, i) => {
  const head = `${systemPrompts[i % 8]}\nUser ${i}: please summarise document #${i}. `
  const text = (head + 'lorem ipsum dolor sit amet '.repeat(Math.ceil(PROMPT_CHARS / 27))).slice(0, PROMPT_CHARS)
  return { model: 'llama-3-8b', prefix: () => text }
})

const plainRequest: RouteRequest = { model: 'llama-3-8b' }
const tried = new Set<BenchEngine>()
const canTake = (e: BenchEngine) => e.model === 'llama-3-8b' && e.healthy && e.activeRequests < e.maxConcurrency && !tried.has(e)

interface Row {
  readonly name: string
  readonly note: string
  /** Makes the i-th decision and returns the chosen engine's id (kept so the work is not optimised away). */
  readonly makeDecider: () => (i: number) => string | undefined
}

const strategyRow = (name: RoutingStrategyName, note: string, requests: readonly RouteRequest[] = [plainRequest]): Row => ({
  name,
  note,
  makeDecider: () => {
    const strategy = createStrategy(name, DEFAULTS.locality)
    return (i) => strategy.pick(engines, requests[i % requests.length]!)?.id
  },
})

const rows: Row[] = [
  strategyRow('load_balanced', 'fixed 64 candidates'),
  strategyRow('round_robin', 'fixed 64 candidates, weights 1–4'),
  strategyRow('random', 'fixed 64 candidates, Math.random'),
  strategyRow('affinity', `${AFFINITY_KEYS} distinct keys`, affinityRequests),
  strategyRow('locality', `${PROMPTS} prompts of ${PROMPT_CHARS} chars, prefixChars ${DEFAULTS.locality.prefixChars}`, localityRequests),
  {
    name: 'filter + load_balanced',
    note: `candidates rebuilt each pick by filtering 64 on model, health, capacity, tried (${engines.filter(canTake).length} pass)`,
    makeDecider: () => {
      const strategy = createStrategy('load_balanced', DEFAULTS.locality)
      return () => strategy.pick(engines.filter(canTake), plainRequest)?.id
    },
  },
]

interface Result {
  readonly row: Row
  readonly nsPerPick: number[]
  readonly picks: number
}

function timeRow(row: Row): Result {
  const decide = row.makeDecider()
  let sink = 0
  for (let i = 0; i < WARMUP_PICKS; i++) sink += decide(i)?.length ?? 0
  const nsPerPick: number[] = []
  let picks = 0
  const rowStart = Bun.nanoseconds()
  for (let run = 0; run < RUNS && Bun.nanoseconds() - rowStart < CAP_NS_PER_ROW; run++) {
    const start = Bun.nanoseconds()
    let n = 0
    // Check the cap every 1024 picks so a slow strategy stops near 5 s instead of finishing the run.
    while (n < PICKS_PER_RUN && ((n & 1023) !== 0 || Bun.nanoseconds() - rowStart < CAP_NS_PER_ROW)) sink += decide(n++)?.length ?? 0
    nsPerPick.push((Bun.nanoseconds() - start) / n)
    picks += n
  }
  if (sink === 0) throw new Error('no engine was ever picked')
  return { row, nsPerPick, picks }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const fmt = (ns: number) => ns.toFixed(0)

console.log(`routing decision, ${ENGINES} engines, ${RUNS} runs of up to ${PICKS_PER_RUN} picks (cap ${CAP_NS_PER_ROW / 1e9} s per row), bun ${Bun.version}\n`)
console.log('| strategy | setting | median ns/pick | min | max | runs × picks |')
console.log('|---|---|---:|---:|---:|---|')
for (const row of rows) {
  const { nsPerPick, picks } = timeRow(row)
  const runs = nsPerPick.length
  console.log(
    `| ${row.name} | ${row.note} | ${fmt(median(nsPerPick))} | ${fmt(Math.min(...nsPerPick))} | ${fmt(Math.max(...nsPerPick))} | ${runs} × ${Math.round(picks / runs)} |`,
  )
}

// The gateway's own request path: Router.acquire (READY index lookup, breaker and capacity filter,
// strategy pick, slot taken) then release, over a registry of 64 checked engines.
async function routerPath(strategy: RoutingStrategyName): Promise<number[]> {
  const { EngineRegistry } = await import('../src/control-plane/engine-registry')
  const { Router } = await import('../src/control-plane/router')
  const { silentLogger } = await import('../src/telemetry/logger')
  const models = (i: number) => (i % 8 === 7 ? 'other-model' : 'llama-3-8b')
  const registry = new EngineRegistry(
    engines.map((e, i) => ({
      id: e.id,
      baseUrl: `http://10.0.${i}.1:8000/v1`,
      kind: 'llm',
      weight: e.weight,
      maxConcurrency: 1000,
      fetch: async (url: string) => (url.endsWith('/models') ? Response.json({ data: [{ id: models(i) }] }) : new Response('{}')),
    })),
    { intervalMs: 3_600_000, timeoutMs: 1000, log: silentLogger },
  )
  await registry.checkAll()
  const router = new Router(registry, {
    routing: { strategy, perModel: {}, locality: DEFAULTS.locality },
    scheduling: { policy: 'fifo', queueSize: 10, queueTimeoutMs: 1000 },
    breakerCooldownMs: 10_000,
  })
  const signal = new AbortController().signal
  const none = new Set<never>()
  const requests = (strategy === 'locality' ? localityRequests : strategy === 'affinity' ? affinityRequests : [plainRequest]).map((r) => ({
    ...r,
    prefix: r.prefix ?? (() => ''),
    priority: 2,
    operation: 'chat' as const,
    signal,
  }))
  const once = async (i: number) => {
    const engine = await router.acquire(requests[i % requests.length]!, none)
    router.release(engine!)
  }
  for (let i = 0; i < WARMUP_PICKS; i++) await once(i)
  const nsPerPick: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const start = Bun.nanoseconds()
    const n = PICKS_PER_RUN / 4
    for (let i = 0; i < n; i++) await once(i)
    nsPerPick.push((Bun.nanoseconds() - start) / n)
  }
  registry.stop()
  return nsPerPick
}

console.log('\n| request path | strategy | median ns/request | min | max |')
console.log('|---|---|---:|---:|---:|')
for (const strategy of ['load_balanced', 'affinity', 'locality'] as const) {
  const ns = await routerPath(strategy)
  console.log(`| Router.acquire + release, 64 engines (56 serve the model) | ${strategy} | ${fmt(median(ns))} | ${fmt(Math.min(...ns))} | ${fmt(Math.max(...ns))} |`)
}
