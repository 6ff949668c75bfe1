// What tracing and metrics cost at saturation: three gateway processes (`bun src/main.ts`, metrics on
// in all) in front of the perf bench's fake engine: tracing off, always_on and 10% of traces sampled
// (parentbased_traceidratio 0.1), the last two exporting every sampled span over OTLP/protobuf to a
// loopback sink in its own process. The perf bench's load driver (a fresh process per measurement,
// 32 closed-loop clients, non-streamed chats) measures them in turn, round after round, so drift on
// the machine hits all three alike; each gateway is warmed up first, so the JIT has settled (with
// 10% sampled the traced code runs a tenth as often and compiles last). Plus the cost of one
// histogram observation.
//   bun bench/observability.bench.ts [--rounds 4] [--measure-ms 6000] [--warmup-ms 6000]
// Bounded: each measurement by the driver's own time limits; every process is stopped at the end.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Histogram } from '../src/telemetry/prometheus'
import { LIFTED_FETCH_CAP, SOURCE_MAIN, cpuMs, runDriver, startGateway, startScript, type Child } from './perf/procs'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: 'string', default: '4' },
    'measure-ms': { type: 'string', default: '6000' },
    'warmup-ms': { type: 'string', default: '6000' },
  },
})
const ROUNDS = Math.min(20, Math.max(1, Number(values.rounds)))
const MEASURE_MS = Math.min(60_000, Math.max(1000, Number(values['measure-ms'])))
const WARMUP_MS = Math.min(60_000, Math.max(0, Number(values['warmup-ms'])))
const CONCURRENCY = 32

const SETTINGS = ['off', 'on', 'tenth'] as const
type Setting = (typeof SETTINGS)[number]
/** One measurement: requests per second, and µs of CPU per request of each process. */
interface Round {
  readonly rate: number
  readonly gateway: number
  readonly engine: number
  readonly sink: number
  readonly driver: number
}
const LABELS: Record<Setting, string> = {
  off: 'tracing off, metrics on',
  on: 'tracing on (always_on, OTLP export to loopback), metrics on',
  tenth: 'tracing on, 10% of traces sampled (parentbased_traceidratio 0.1), metrics on',
}

const tmp = mkdtempSync(join(tmpdir(), 'sagellm-observability-'))
const children: Child[] = []
try {
  const engine = await startScript('engine', 'engine.ts', [])
  children.push(engine)
  const sink = await startScript('otlp-sink', 'otlp-sink.ts', [])
  children.push(sink)
  const traces = `${sink.url}/v1/traces`
  const env: Record<Setting, Record<string, string>> = {
    off: {},
    on: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces, OTEL_TRACES_SAMPLER: 'always_on' },
    tenth: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  }
  const gateways = {} as Record<Setting, Child>
  for (const setting of SETTINGS) {
    gateways[setting] = await startGateway({
      command: ['bun', SOURCE_MAIN],
      engineUrl: `${engine.url}/v1`,
      dbPath: join(tmp, `${setting}.db`),
      args: ['--log-level', 'error'],
      env: { ...LIFTED_FETCH_CAP, ...env[setting] },
      name: setting,
    })
    children.push(gateways[setting])
  }
  /** One measurement, with the CPU the OTLP sink spent receiving this gateway's spans meanwhile. */
  const measure = async (setting: Setting, warmupMs: number, measureMs: number) => {
    const sinkBefore = cpuMs(sink.pid)
    const result = await runDriver(
      { url: `${gateways[setting].url}/v1/chat/completions`, mode: 'nonstream', concurrency: CONCURRENCY, warmupMs, measureMs },
      { proxyPid: gateways[setting].pid, enginePid: engine.pid },
    )
    return { ...result, sinkCpuMs: cpuMs(sink.pid) - sinkBefore }
  }
  for (const setting of SETTINGS) await measure(setting, WARMUP_MS, 1000)

  // Per round: the rate, and the CPU per request of every process on the machine's two cores.
  const rounds = Object.fromEntries(SETTINGS.map((setting) => [setting, [] as Round[]])) as Record<Setting, Round[]>
  for (let round = 0; round < ROUNDS; round++) {
    for (const setting of SETTINGS) {
      const r = await measure(setting, 1000, MEASURE_MS)
      if (r.errors > 0) throw new Error(`${setting}: ${r.errors} errors (${r.firstError})`)
      const perRequest = (ms: number | undefined) => ((ms ?? NaN) * 1000) / r.completedTotal
      rounds[setting].push({ rate: r.perSecond, gateway: perRequest(r.proxyCpuMs), engine: perRequest(r.engineCpuMs), sink: perRequest(r.sinkCpuMs), driver: perRequest(r.driverCpuMs) })
    }
  }

  // One observation of a labelled histogram, as the request path makes several per attempt.
  const histogram = new Histogram('bench_seconds', 'bench', ['a', 'b', 'c'], [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24])
  const labels = ['chat', 'm', 'engine-0']
  const N = 1_000_000
  const t0 = Bun.nanoseconds()
  for (let i = 0; i < N; i++) histogram.observe(labels, (i % 1000) / 1000)
  const observeNs = (Bun.nanoseconds() - t0) / N

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const of = (setting: Setting, key: keyof Round) => rounds[setting].map((r) => r[key])
  const pct = (setting: Setting) => (median(of(setting, 'rate')) / median(of('off', 'rate'))) * 100
  const paired = (setting: Setting) => rounds[setting].map((r, i) => (r.rate / rounds.off[i]!.rate) * 100)
  console.log(
    `observability overhead, bun ${Bun.version}, ${ROUNDS} interleaved rounds × ${MEASURE_MS / 1000} s per setting after a ${WARMUP_MS / 1000} s warm-up, ${CONCURRENCY} clients, non-streamed chats`,
  )
  console.log('')
  console.log('| setting | median req/s | rounds (req/s) | of tracing off | CPU per request, µs: gateway / engine / OTLP sink / driver |')
  console.log('|---|---:|---|---:|---:|')
  for (const setting of SETTINGS) {
    const ratio = setting === 'off' ? '–' : `${pct(setting).toFixed(1)}% (rounds ${paired(setting).map((x) => x.toFixed(1)).join(', ')})`
    const cpu = (['gateway', 'engine', 'sink', 'driver'] as const).map((key) => median(of(setting, key)).toFixed(1)).join(' / ')
    const rates = of(setting, 'rate')
    console.log(`| ${LABELS[setting]} | ${median(rates).toFixed(0)} | ${rates.map((x) => x.toFixed(0)).join(', ')} | ${ratio} | ${cpu} |`)
  }
  console.log('')
  const target = pct('on') >= 90 ? 'PASS' : 'FAIL'
  console.log(`throughput with tracing: always_on ${pct('on').toFixed(1)}% (target ≥ 90%: ${target}), 10% sampled ${pct('tenth').toFixed(1)}% of without`)
  console.log(`one labelled histogram observation: ${observeNs.toFixed(0)} ns`)
} finally {
  for (const child of children.reverse()) await child.stop()
  rmSync(tmp, { recursive: true, force: true })
}
