// Process plumbing for the perf bench: start the fake engine, the floor proxy and the gateway binary as
// child processes, run one driver process per measurement, and read a process's CPU time and peak RSS
// from /proc. Every wait here is bounded.
import type { Subprocess } from 'bun'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const BENCH_DIR = join(import.meta.dir, '..')
/** Bun's fetch keeps at most 256 requests in flight per process unless this is raised at start. */
export const LIFTED_FETCH_CAP = { BUN_CONFIG_MAX_HTTP_REQUESTS: '4096' }

export interface Child {
  readonly name: string
  readonly proc: Subprocess
  readonly pid: number
  readonly port: number
  readonly url: string
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

async function stopProc(proc: Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill('SIGTERM')
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)])
  if (!exited) {
    proc.kill('SIGKILL')
    await proc.exited
  }
}

/** Starts a bench script that prints `READY <port>` on its stdout once it listens. */
export async function startScript(name: string, script: string, args: string[], env: Record<string, string> = {}): Promise<Child> {
  const proc = Bun.spawn(['bun', join(BENCH_DIR, 'perf', script), ...args], { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'inherit' })
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = performance.now() + 10_000
  while (!/READY (\d+)/.test(text) && performance.now() < deadline) {
    const next = await Promise.race([reader.read(), Bun.sleep(deadline - performance.now()).then(() => undefined)])
    if (!next || next.done) break
    text += decoder.decode(next.value, { stream: true })
  }
  reader.releaseLock()
  const port = Number(/READY (\d+)/.exec(text)?.[1])
  if (!port) {
    await stopProc(proc)
    throw new Error(`${name} did not start (stdout: ${text.slice(0, 200)})`)
  }
  return { name, proc, pid: proc.pid, port, url: `http://127.0.0.1:${port}`, stop: () => stopProc(proc) }
}

/** An OTLP/HTTP receiver on loopback that counts and drops what it is sent (a collector that costs nothing). */
/** An OTLP/HTTP sink on loopback that counts what it receives; its `env` makes a gateway export to it with `sampler` (OTEL_TRACES_SAMPLER, with `samplerArg` as its argument). */
export function startOtlpSink(sampler = 'always_on', samplerArg = '1') {
  const received = { requests: 0, bytes: 0 }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      received.requests++
      received.bytes += (await req.arrayBuffer()).byteLength
      return new Response(new Uint8Array(), { headers: { 'content-type': 'application/x-protobuf' } })
    },
  })
  return {
    received,
    /** The sink's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
    url: `http://127.0.0.1:${server.port}`,
    /** Environment that makes a gateway export its sampled spans (every span by default) to this sink. */
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${server.port}/v1/traces`, OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: samplerArg },
    stop: () => server.stop(true),
  }
}

export const chatBody = JSON.stringify({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'Say something short.' }] })

/** Polls a chat completion until it answers 200: returns ms to the first response of any kind and to the 200. */
export async function pollUntilAnswered(url: string, started: number, timeoutMs = 10_000): Promise<{ firstResponseMs: number; firstOkMs: number }> {
  let firstResponseMs = NaN
  while (performance.now() - started < timeoutMs) {
    const status = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody }).then(
      async (r) => (await r.arrayBuffer(), r.status),
      () => 0,
    )
    const now = performance.now() - started
    if (status && Number.isNaN(firstResponseMs)) firstResponseMs = now
    if (status === 200) return { firstResponseMs, firstOkMs: now }
    await Bun.sleep(status ? 2 : 1)
  }
  throw new Error(`${url} gave no 200 to a chat completion within ${timeoutMs} ms`)
}

/** The gateway's entry point in source, for `bun [runtime flags] SOURCE_MAIN …` instead of the binary. */
export const SOURCE_MAIN = join(BENCH_DIR, '..', 'src', 'main.ts')

export interface GatewayOptions {
  /** The executable (the compiled binary)… */
  readonly binary?: string
  /** …or the command that starts the gateway, e.g. ['bun', '--cpu-prof', SOURCE_MAIN]. */
  readonly command?: readonly string[]
  readonly engineUrl: string
  readonly dbPath: string
  /** More command-line flags (e.g. --log-level error). */
  readonly args?: readonly string[]
  readonly env?: Record<string, string>
  readonly name?: string
}

/** The gateway binary as deployed, default features and log level (its request log goes to /dev/null). */
export async function startGateway(o: GatewayOptions): Promise<Child & { startup: { firstResponseMs: number; firstOkMs: number } }> {
  const port = await freePort()
  const started = performance.now()
  const command = o.command ?? (o.binary ? [o.binary] : undefined)
  if (!command) throw new Error('startGateway needs a binary or a command')
  const proc = Bun.spawn([...command, '--engine', o.engineUrl, '--host', '127.0.0.1', '--port', String(port), '--db', o.dbPath, ...(o.args ?? [])], {
    env: { ...process.env, ...o.env },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  try {
    const startup = await pollUntilAnswered(url, started)
    return { name: o.name ?? 'gateway', proc, pid: proc.pid, port, url, stop: () => stopProc(proc), startup }
  } catch (e) {
    await stopProc(proc)
    throw e
  }
}

/** User + system CPU time of a process (all its threads) so far, in ms. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return NaN
  }
}

/** A /proc/PID/status field in KiB (VmHWM = peak resident set, VmRSS = current). */
export function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN)
  } catch {
    return NaN
  }
}

/** Resets the peak resident set (VmHWM) of a process to its current RSS (Linux ≥ 4.0). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

export interface DriverConfig {
  readonly url: string
  readonly mode: 'nonstream' | 'stream'
  readonly concurrency: number
  readonly warmupMs: number
  readonly measureMs: number
  /** Token events each stream must carry (stream mode; sent as max_tokens). */
  readonly tokens?: number
  /** The fake engine's pause between a stream's chunks (sent as the extra body field bench_pace_ms). */
  readonly paceMs?: number
  /**
   * anthropic: Messages API requests (`url` is then a /v1/messages URL) and Anthropic streams: a token is a
   * text_delta, the end message_stop. The Messages API takes no extra body field, so the fake engine's
   * own pace applies (start it with --pace-ms). Default: OpenAI chat completions.
   */
  readonly api?: 'openai' | 'anthropic'
}

export interface DriverResult {
  perSecond: number
  completedInWindow: number
  completedTotal: number
  samples: number
  p50: number
  p90: number
  p99: number
  max: number
  meanGap: number
  gapP50: number
  gapP99: number
  gapMax: number
  gapSamples: number
  /** Streams whose first token came more than half a pace after the request. */
  lateFirst: number
  errors: number
  firstError?: string
  watchdogFired: boolean
  driverCpuMs: number
  /** CPU the measured proxy process (if any) and the engine used during the driver's run, ms. */
  proxyCpuMs?: number
  engineCpuMs?: number
}

/** One measurement: a fresh driver process against one URL; CPU of the watched processes around it. */
export async function runDriver(config: DriverConfig, watch: { proxyPid?: number; enginePid: number }): Promise<DriverResult> {
  const proxyBefore = watch.proxyPid ? cpuMs(watch.proxyPid) : NaN
  const engineBefore = cpuMs(watch.enginePid)
  const proc = Bun.spawn(['bun', join(BENCH_DIR, 'perf', 'driver.ts'), JSON.stringify(config)], {
    env: { ...process.env, ...LIFTED_FETCH_CAP },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const limit = config.warmupMs + config.measureMs + 30_000
  const killer = setTimeout(() => proc.kill('SIGKILL'), limit)
  const out = await new Response(proc.stdout as ReadableStream).text()
  await proc.exited
  clearTimeout(killer)
  const line = out.trim().split('\n').pop() ?? ''
  let result: DriverResult
  try {
    result = JSON.parse(line) as DriverResult
  } catch {
    throw new Error(`driver gave no result (exit ${proc.exitCode}, signal ${proc.signalCode}): ${out.slice(0, 300)}`)
  }
  if (watch.proxyPid) result.proxyCpuMs = cpuMs(watch.proxyPid) - proxyBefore
  result.engineCpuMs = cpuMs(watch.enginePid) - engineBefore
  return result
}
