// What tracing and metrics cost: the throughput of a gateway process on loopback (a fake engine
// answering like the mock; non-streamed and streamed chats from concurrent clients in this process)
// with tracing on (sampler always_on, every span exported over OTLP/protobuf to a loopback receiver)
// versus tracing off; metrics are recorded in both. Plus the cost of one histogram observation.
// Run with `bun bench/observability.bench.ts`. Bounded: each run is at most REQUESTS requests and
// RUN_CAP_MS milliseconds; every gateway process is stopped after its run.
import { startFakeEngine } from '../test/helpers/fake-engine'
import { Histogram } from '../src/telemetry/prometheus'
import { cpuMs, SOURCE_MAIN, startGateway, startOtlpSink } from './perf/procs'

const REQUESTS = 20_000
/** Requests before measuring: enough for the JIT to settle (with tracing on, 4 000 left it still compiling). */
const WARMUP = 16_000
const CONCURRENCY = 16
const RUNS = 4
const RUN_CAP_MS = 20_000

const otlp = startOtlpSink()
const receiver = otlp.received
const engine = await startFakeEngine({ models: ['m'] })

/** The gateway as it is deployed: its own process (bun src/main.ts), here on a free loopback port. */
const startGatewayProcess = (env: Record<string, string>) =>
  startGateway({ command: ['bun', SOURCE_MAIN], engineUrl: engine.url, dbPath: ':memory:', args: ['--log-level', 'error'], env })

async function throughput(url: string, requests = REQUESTS): Promise<number> {
  const body = (i: number) =>
    JSON.stringify({ model: 'm', stream: i % 4 === 0, max_tokens: 16, messages: [{ role: 'user', content: `question ${i}` }] })
  let next = 0
  let done = 0
  const started = performance.now()
  const worker = async () => {
    while (next < requests && performance.now() - started < RUN_CAP_MS) {
      const i = next++
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`request ${i} answered ${res.status}`)
      done++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return done / ((performance.now() - started) / 1000)
}

const endpoint = otlp.url
const results = { off: [] as number[], on: [] as number[], tenth: [] as number[] }
const cpu = { off: [] as number[], on: [] as number[], tenth: [] as number[] }
const settings = {
  off: {},
  on: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'always_on' },
  tenth: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
}
for (let run = 0; run < RUNS; run++) {
  for (const setting of ['off', 'on', 'tenth'] as const) {
    const gw = await startGatewayProcess(settings[setting])
    await throughput(gw.url, WARMUP)
    // CPU of the gateway process (user + system, all its threads), from /proc.
    const cpuBefore = cpuMs(gw.pid)
    results[setting].push(await throughput(gw.url))
    cpu[setting].push((cpuMs(gw.pid) - cpuBefore) / 1000 / REQUESTS)
    await gw.stop()
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const off = median(results.off)
const on = median(results.on)
const tenth = median(results.tenth)

// One observation of a labelled histogram, as the request path makes several per attempt.
const histogram = new Histogram('bench_seconds', 'bench', ['a', 'b', 'c'], [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24])
const labels = ['chat', 'm', 'engine-0']
const N = 1_000_000
const t0 = Bun.nanoseconds()
for (let i = 0; i < N; i++) histogram.observe(labels, (i % 1000) / 1000)
const observeNs = (Bun.nanoseconds() - t0) / N

console.log(`observability overhead, bun ${Bun.version}, ${RUNS} runs × ${REQUESTS} requests, ${CONCURRENCY} concurrent clients, 1 in 4 streamed`)
console.log('')
const us = (setting: keyof typeof cpu) => (median(cpu[setting]) * 1e6).toFixed(0)
console.log('| setting | median req/s | runs (req/s) | gateway CPU per request (µs, all threads) |')
console.log('|---|---:|---|---:|')
console.log(`| tracing off, metrics on | ${off.toFixed(0)} | ${results.off.map((x) => x.toFixed(0)).join(', ')} | ${us('off')} |`)
console.log(`| tracing on (always_on, OTLP export to loopback), metrics on | ${on.toFixed(0)} | ${results.on.map((x) => x.toFixed(0)).join(', ')} | ${us('on')} |`)
console.log(`| tracing on, 10% of traces sampled (parentbased_traceidratio 0.1), metrics on | ${tenth.toFixed(0)} | ${results.tenth.map((x) => x.toFixed(0)).join(', ')} | ${us('tenth')} |`)
console.log('')
console.log(`throughput with tracing: always_on ${((on / off) * 100).toFixed(1)}%, 10% sampled ${((tenth / off) * 100).toFixed(1)}% of without; OTLP requests received: ${receiver.requests} (${(receiver.bytes / 1024).toFixed(0)} KiB)`)
console.log(`one labelled histogram observation: ${observeNs.toFixed(0)} ns`)
await otlp.stop()
await engine.stop()
