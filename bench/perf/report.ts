// Turns the perf bench's measurements into its Markdown report: the figures per target, and the
// issue's targets with pass/fail. Per-round figures are paired (each target minus `direct` of the
// same round) before the median over rounds is taken, so drift between rounds cancels out.
import type { DriverResult } from './procs'

type Round = Record<string, DriverResult>
export interface Load {
  readonly concurrency: number
  readonly warmupMs: number
  readonly measureMs: number
  /** Streams: token chunks per stream and the engine's pause between them. */
  readonly tokens?: number
  readonly paceMs?: number
}
export interface Settings {
  readonly rounds: number
  readonly nonStream: Load
  readonly stream64: Load
  readonly stream1000: Load
  readonly startupRuns: number
}
export interface Measurements {
  nonStream: Round[]
  stream64: Round[]
  stream1000: Round[]
  startup: { firstResponseMs: number; firstOkMs: number }[]
  peakRssKiB: Record<string, number>
  idleRssKiB: number
  floorIdleRssKiB: number
  sessionTurnUs?: number
  routingNs?: number
}
export interface Machine {
  readonly nproc: number
  readonly cpu: string
  readonly bun: string
  readonly fdLimit: number
  readonly loadBefore: number[]
  readonly loadAfter: number[]
  readonly binary: string
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (!s.length) return NaN
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
type Key = 'perSecond' | 'p50' | 'p99' | 'meanGap' | 'gapP99'
const fig = (rs: Round[], t: string, k: Key) => median(rs.map((r) => r[t]?.[k] ?? NaN))
const added = (rs: Round[], t: string, k: Key) => median(rs.map((r) => (r[t]?.[k] ?? NaN) - (r.direct?.[k] ?? NaN)))
const ratio = (rs: Round[], a: string, b: string, k: Key) => median(rs.map((r) => (r[a]?.[k] ?? NaN) / (r[b]?.[k] ?? NaN)))
const errors = (rs: Round[], t: string) => rs.reduce((n, r) => n + (r[t]?.errors ?? 0), 0)
const done = (rs: Round[], t: string) => rs.reduce((n, r) => n + (r[t]?.completedTotal ?? 0), 0)
const cpuPerRequest = (rs: Round[], t: string) => median(rs.map((r) => ((r[t]?.proxyCpuMs ?? NaN) * 1000) / (r[t]?.completedTotal ?? NaN)))

const n = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–')
const sign = (x: number, digits = 2) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : '–')
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US').replace(/,/g, ' ') : '–')
const mib = (kib: number | undefined) => (kib !== undefined && Number.isFinite(kib) ? (kib / 1024).toFixed(1) : '–')

export function report(m: Measurements, s: Settings, machine: Machine): string {
  const out: string[] = []
  const row = (...cells: string[]) => out.push(`| ${cells.join(' | ')} |`)
  const T = ['direct', 'floor', 'gateway']
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')
  out.push(`## perf bench: direct vs floor vs gateway binary`)
  out.push('')
  out.push(`- machine: ${machine.nproc} CPUs (${machine.cpu}), bun ${machine.bun}, ulimit -n ${machine.fdLimit}`)
  out.push(`- load average (1/5/15 min): before ${load(machine.loadBefore)}, after ${load(machine.loadAfter)}`)
  out.push(`- gateway: ${machine.binary}, default features (routing, metrics, request log at info to /dev/null), SQLite file db`)
  out.push(
    `- settings: ${s.rounds} interleaved round(s); non-stream ${s.nonStream.concurrency} clients; 64 streams of ${s.stream64.tokens} tokens ` +
      `every ${s.stream64.paceMs} ms; 1 000 streams of ${s.stream1000.tokens} tokens every ${s.stream1000.paceMs} ms; windows ${s.nonStream.measureMs}/${s.stream64.measureMs}/${s.stream1000.measureMs} ms after ` +
      `${s.nonStream.warmupMs}/${s.stream64.warmupMs}/${s.stream1000.warmupMs} ms warm-up (non-stream/64/1 000); ` +
      `floor and drivers run with BUN_CONFIG_MAX_HTTP_REQUESTS=4096, the gateway started without it (it raises its own to 16384); figures are medians over rounds, "added" = minus direct in the same round`,
  )
  out.push('')
  row('figure', ...T)
  row('---', ...T.map(() => '---:'))
  const ns = m.nonStream
  const c = s.nonStream.concurrency
  row(`non-stream req/s (${c} clients)`, ...T.map((t) => int(fig(ns, t, 'perSecond'))))
  row('non-stream p50 / p99 ms', ...T.map((t) => `${n(fig(ns, t, 'p50'))} / ${n(fig(ns, t, 'p99'))}`))
  row('non-stream added p50 / p99 ms vs direct', '–', ...T.slice(1).map((t) => `${sign(added(ns, t, 'p50'))} / ${sign(added(ns, t, 'p99'))}`))
  row('non-stream proxy CPU per request µs (all threads)', '–', ...T.slice(1).map((t) => n(cpuPerRequest(ns, t), 0)))
  row('non-stream errors / requests', ...T.map((t) => `${errors(ns, t)} / ${int(done(ns, t))}`))
  const streams = (label: string, rs: Round[], names: string[]) => {
    if (!rs.length) return
    row(`${label}: TTFT p50 / p99 ms`, ...names.map((t) => `${n(fig(rs, t, 'p50'))} / ${n(fig(rs, t, 'p99'))}`))
    row(`${label}: added TTFT p50 ms vs direct`, ...names.map((t) => (t === 'direct' ? '–' : sign(added(rs, t, 'p50')))))
    row(`${label}: mean / p99 gap between chunks ms`, ...names.map((t) => `${n(fig(rs, t, 'meanGap'), 3)} / ${n(fig(rs, t, 'gapP99'))}`))
    row(`${label}: added mean / p99 gap ms vs direct`, ...names.map((t) => (t === 'direct' ? '–' : `${sign(added(rs, t, 'meanGap'), 3)} / ${sign(added(rs, t, 'gapP99'))}`)))
    row(`${label}: first token > ½ pace late, % of streams`, ...names.map((t) => n(median(rs.map((r) => ((r[t]?.lateFirst ?? NaN) * 100) / (r[t]?.samples ?? NaN))), 1)))
    row(`${label}: errors / streams`, ...names.map((t) => `${errors(rs, t)} / ${int(done(rs, t))}`))
  }
  streams('64 streams', m.stream64, T)
  streams('1 000 streams', m.stream1000, T)
  if (m.stream1000.length)
    row('1 000 streams: peak RSS MiB (VmHWM)', '–', mib(m.peakRssKiB.floor), mib(m.peakRssKiB.gateway))
  out.push('')

  const startOk = median(m.startup.map((x) => x.firstOkMs))
  const startAny = median(m.startup.map((x) => x.firstResponseMs))
  out.push('| other figure | value |')
  out.push('|---|---:|')
  out.push(`| binary start → first answered chat (200), median of ${m.startup.length} | ${n(startOk, 0)} ms (runs: ${m.startup.map((x) => x.firstOkMs.toFixed(0)).join(', ')}) |`)
  out.push(`| binary start → first HTTP response of any status, median | ${n(startAny, 0)} ms |`)
  out.push(`| RSS idle after start: gateway / floor | ${mib(m.idleRssKiB)} / ${mib(m.floorIdleRssKiB)} MiB |`)
  out.push(`| gateway peak RSS over the whole run | ${mib(m.peakRssKiB['gateway (whole run)'])} MiB |`)
  if (m.stream1000.length) {
    const d = 'gateway-default-cap'
    out.push(
      `| gateway started with Bun's default fetch cap (BUN_CONFIG_MAX_HTTP_REQUESTS=256; http:// engines do not go through fetch), 1 000 streams: TTFT p50 / p99, added gap, errors | ` +
        `${n(fig(m.stream1000, d, 'p50'))} / ${n(fig(m.stream1000, d, 'p99'))} ms, ${sign(added(m.stream1000, d, 'meanGap'), 3)} ms, ${errors(m.stream1000, d)} / ${int(done(m.stream1000, d))}; peak RSS ${mib(m.peakRssKiB[d])} MiB |`,
    )
  }
  if (m.sessionTurnUs !== undefined) out.push(`| session turn at 1 000 stored messages (bench/sessions.bench.ts) | ${n(m.sessionTurnUs, 0)} µs |`)
  if (m.routingNs !== undefined) out.push(`| routing decision, Router.acquire + release, load_balanced, 64 engines (bench/routing.bench.ts) | ${n(m.routingNs, 0)} ns |`)
  out.push('')

  const targets: [string, string, boolean | undefined][] = []
  const tp = ratio(ns, 'gateway', 'floor', 'perSecond')
  targets.push(['non-stream throughput ≥ 90% of floor', `${n(tp * 100, 1)}%`, tp >= 0.9])
  const gp = added(ns, 'gateway', 'p50')
  const fp = added(ns, 'floor', 'p50')
  targets.push(['non-stream added p50 ≤ floor added p50 + 0.3 ms', `${sign(gp)} vs ${sign(fp)} ms (excess ${sign(gp - fp)})`, gp <= fp + 0.3])
  for (const [label, rs] of [['64', m.stream64], ['1 000', m.stream1000]] as const) {
    if (!rs.length) continue
    const gt = added(rs, 'gateway', 'p50')
    const ft = added(rs, 'floor', 'p50')
    targets.push([`${label} streams: added TTFT p50 ≤ floor's + 0.3 ms`, `${sign(gt)} vs ${sign(ft)} ms (excess ${sign(gt - ft)})`, gt <= ft + 0.3])
    const gg = added(rs, 'gateway', 'meanGap')
    targets.push([`${label} streams: added mean gap between chunks ≤ 0.2 ms`, `${sign(gg, 3)} ms`, gg <= 0.2])
  }
  if (m.stream1000.length) {
    const e = errors(m.stream1000, 'gateway')
    const rss = (m.peakRssKiB.gateway ?? NaN) / 1024
    targets.push(['1 000 streams: zero errors', `${e} errors in ${int(done(m.stream1000, 'gateway'))} streams`, e === 0 && done(m.stream1000, 'gateway') > 0])
    targets.push(['1 000 streams: gateway peak RSS ≤ 150 MiB', `${n(rss, 1)} MiB`, rss <= 150])
  }
  if (!m.stream1000.length) targets.push(['1 000 streams: TTFT, gap, zero errors, peak RSS ≤ 150 MiB', 'not measured (scenario skipped)', undefined])
  targets.push(['start → first answered request ≤ 300 ms', `${n(startOk, 0)} ms`, startOk <= 300])
  out.push('| target | measured | result |')
  out.push('|---|---|---|')
  for (const [what, value, ok] of targets) out.push(`| ${what} | ${value} | ${ok === undefined ? 'SKIPPED' : ok ? 'PASS' : '**FAIL**'} |`)
  out.push('')
  return out.join('\n')
}
