// The perf bench's load driver, run as its own process (one per measurement): CONCURRENCY closed-loop
// workers send chat completions to one URL for WARMUP_MS (not recorded), then MEASURE_MS (recorded);
// then prints one JSON line with the figures. Bounded in time (a watchdog aborts every request
// GRACE_MS after the end) and in count (MAX_REQUESTS requests, and at most CAP latencies kept).
// Latency samples are the requests that began in the window; req/s counts those that ended in it.
//   non-stream: latency of each request (send -> whole body read), req/s completed in the window
//   stream:     time to first token (send -> first token event read), and the gaps between token
//               events from the 2nd to the last (the 1st gap is left out: a late first token is TTFT's,
//               and would shorten it); a stream counts as an error unless it is HTTP 200, carries
//               exactly the expected number of token events and ends with `data: [DONE]`
//   api anthropic: the same over /v1/messages (Anthropic bodies and events: text_delta, message_stop)
// Usage: bun bench/perf/driver.ts '{"url":…,"mode":"stream","concurrency":64,"warmupMs":1000,"measureMs":5000,"tokens":32}'
import type { DriverConfig as Config } from './procs'

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config
const GRACE_MS = 15_000
const MAX_REQUESTS = 5_000_000
const CAP = 1_000_000

const anthropic = cfg.api === 'anthropic'
const messages = [{ role: 'user', content: 'Say something short.' }]
const nonStreamBody = JSON.stringify({ model: 'm', max_tokens: 16, messages })
// The Messages API refuses unknown fields: there the fake engine's own pace applies.
const streamBody = JSON.stringify({ model: 'm', max_tokens: cfg.tokens ?? 32, stream: true, messages, ...(anthropic ? {} : { bench_pace_ms: cfg.paceMs ?? 20 }) })
const headers: Record<string, string> = { 'content-type': 'application/json', ...(anthropic ? { 'anthropic-version': '2023-06-01' } : {}) }
/** How each API's stream marks a token event, its end and a failure. */
const TOKEN = anthropic ? '"type":"text_delta","text":"tok' : '"content":"tok'
const END = anthropic ? 'event: message_stop' : 'data: [DONE]'
const ERROR = anthropic ? 'event: error' : '"error"'

const latency = new Float64Array(CAP) // non-stream latency, or stream TTFT
const gaps = new Float32Array(4 * CAP) // stream: every gap between token events but the first
let gapCount = 0
let lateFirst = 0 // streams whose first token came more than half a pace late
let kept = 0
let completedInWindow = 0
let completedTotal = 0
let started = 0
let errors = 0
let firstError: string | undefined

const t0 = performance.now()
const windowStart = t0 + cfg.warmupMs
const windowEnd = windowStart + cfg.measureMs
const watchdog = new AbortController()
const timer = setTimeout(() => watchdog.abort(new Error('driver watchdog: request outlived the run')), cfg.warmupMs + cfg.measureMs + GRACE_MS)
const cpuBefore = process.cpuUsage()

function fail(message: string) {
  errors++
  firstError ??= message
}

async function nonStream(): Promise<void> {
  const begin = performance.now()
  const res = await fetch(cfg.url, { method: 'POST', headers, body: nonStreamBody, signal: watchdog.signal })
  const text = await res.text()
  const end = performance.now()
  if (res.status !== 200 || text.length === 0) return fail(`HTTP ${res.status}: ${text.slice(0, 200)}`)
  completedTotal++
  if (end > windowStart && end <= windowEnd) completedInWindow++
  if (begin >= windowStart && begin < windowEnd && kept < CAP) latency[kept++] = end - begin
}

const decoder = new TextDecoder()
async function oneStream(): Promise<void> {
  const begin = performance.now()
  const res = await fetch(cfg.url, { method: 'POST', headers, body: streamBody, signal: watchdog.signal })
  if (res.status !== 200 || !res.body) return fail(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`)
  const reader = res.body.getReader()
  let buffer = ''
  let tokens = 0
  let first = 0
  let last = 0
  let done = false
  const inWindow = begin >= windowStart && begin < windowEnd
  for (;;) {
    const { value, done: ended } = await reader.read()
    if (ended) break
    const now = performance.now()
    buffer += decoder.decode(value, { stream: true })
    let cut: number
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const ev = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      if (ev.startsWith(END)) done = true
      else if (ev.includes(TOKEN)) {
        if (tokens++ === 0) first = now
        else if (tokens > 2 && inWindow && gapCount < gaps.length) gaps[gapCount++] = now - last
        last = now
      } else if (ev.includes(ERROR)) fail(`error event: ${ev.slice(0, 200)}`)
    }
  }
  const expected = cfg.tokens ?? 32
  if (!done || tokens !== expected) return fail(`stream ended with ${tokens}/${expected} tokens, ${END} ${done ? 'seen' : 'missing'}`)
  completedTotal++
  if (last > windowStart && last <= windowEnd) completedInWindow++
  if (inWindow && kept < CAP) {
    latency[kept++] = first - begin
    if (first - begin > (cfg.paceMs ?? 20) / 2) lateFirst++
  }
}

async function worker(): Promise<void> {
  const one = cfg.mode === 'stream' ? oneStream : nonStream
  while (performance.now() < windowEnd && started < MAX_REQUESTS && !watchdog.signal.aborted) {
    started++
    try {
      await one()
    } catch (e) {
      if (watchdog.signal.aborted) return
      fail((e as Error).message)
    }
  }
}

// Streams start spread evenly over one stream's length (within the warm-up), so new streams keep
// arriving at a steady rate instead of in waves of `concurrency` at once; each worker keeps its phase.
const workers: Promise<void>[] = []
const spreadMs = cfg.mode === 'stream' ? Math.min(cfg.warmupMs * 0.8, (cfg.tokens ?? 32) * (cfg.paceMs ?? 20)) : 0
for (let i = 0; i < cfg.concurrency; i++) {
  workers.push(worker())
  if (spreadMs > 0 && i % 8 === 7) await Bun.sleep((spreadMs * 8) / cfg.concurrency)
}
await Promise.all(workers)
clearTimeout(timer)
const cpu = process.cpuUsage(cpuBefore)

const sorted = latency.slice(0, kept).sort()
const q = (p: number) => (kept ? sorted[Math.min(kept - 1, Math.floor(p * kept))]! : NaN)
let gapSum = 0
for (let i = 0; i < gapCount; i++) gapSum += gaps[i]!
const sortedGaps = gaps.subarray(0, gapCount).sort()
const gq = (p: number) => (gapCount ? sortedGaps[Math.min(gapCount - 1, Math.floor(p * gapCount))]! : NaN)
const result = {
  mode: cfg.mode,
  concurrency: cfg.concurrency,
  windowMs: cfg.measureMs,
  completedInWindow,
  completedTotal,
  perSecond: completedInWindow / (cfg.measureMs / 1000),
  samples: kept,
  p50: q(0.5),
  p90: q(0.9),
  p99: q(0.99),
  max: kept ? sorted[kept - 1] : NaN,
  meanGap: gapCount ? gapSum / gapCount : NaN,
  gapP50: gq(0.5),
  gapP99: gq(0.99),
  gapMax: gapCount ? sortedGaps[gapCount - 1] : NaN,
  gapSamples: gapCount,
  lateFirst,
  errors,
  firstError,
  watchdogFired: watchdog.signal.aborted,
  driverCpuMs: (cpu.user + cpu.system) / 1000,
}
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
