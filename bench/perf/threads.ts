// Where a gateway process's CPU goes, per thread: starts the perf bench's fake engine and a gateway
// (`bun src/main.ts`, or the binary with --binary), warms it up with the load driver, then reads every
// thread's user+system time from /proc/PID/task around a measured driver run and prints µs per request
// for each thread group (the JS thread, Bun's HTTP client thread, JIT, GC…).
// With --otlp an OTLP/HTTP sink is started in this process and the gateway exports every span to it
// (sampler always_on, or --sampler/--sampler-arg), to see what tracing costs per thread.
//   bun bench/perf/threads.ts [--mode nonstream|stream] [--concurrency 32] [--seconds 8] [--warmup-seconds 6] [--otlp [--sampler NAME --sampler-arg R]] [--pace-ms 20] [--tokens 32] [--binary dist/sagellm-gateway]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LIFTED_FETCH_CAP, SOURCE_MAIN, runDriver, startGateway, startOtlpSink, startScript } from './procs'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    mode: { type: 'string', default: 'nonstream' },
    concurrency: { type: 'string' },
    seconds: { type: 'string', default: '8' },
    'warmup-seconds': { type: 'string', default: '6' },
    otlp: { type: 'boolean', default: false },
    sampler: { type: 'string', default: 'always_on' },
    'sampler-arg': { type: 'string', default: '1' },
    'pace-ms': { type: 'string', default: '20' },
    tokens: { type: 'string', default: '32' },
    binary: { type: 'string' },
  },
})
const mode = values.mode === 'stream' ? 'stream' : 'nonstream'
const concurrency = Number(values.concurrency ?? (mode === 'stream' ? 64 : 32))
const seconds = Math.min(60, Math.max(1, Number(values.seconds)))
const warmupSeconds = Math.min(60, Math.max(0, Number(values['warmup-seconds'])))

/** CPU ms per thread of a process, keyed `name#tid`. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(`${name}#${tid}`, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100)
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

const otlp = values.otlp ? startOtlpSink(values.sampler, values['sampler-arg']) : undefined

const engine = await startScript('engine', 'engine.ts', [])
const tmp = mkdtempSync(join(tmpdir(), 'sagellm-threads-'))
const gateway = await startGateway({
  command: values.binary ? [values.binary] : ['bun', SOURCE_MAIN],
  engineUrl: `${engine.url}/v1`,
  dbPath: join(tmp, 'gateway.db'),
  env: { ...LIFTED_FETCH_CAP, ...otlp?.env },
})
try {
  const driver = (warmupMs: number, measureMs: number) =>
    runDriver({ url: `${gateway.url}/v1/chat/completions`, mode, concurrency, warmupMs, measureMs, tokens: Number(values.tokens), paceMs: Number(values['pace-ms']) }, { proxyPid: gateway.pid, enginePid: engine.pid })
  if (warmupSeconds > 0) await driver(0, warmupSeconds * 1000)
  const before = threadCpu(gateway.pid)
  const r = await driver(0, seconds * 1000)
  const after = threadCpu(gateway.pid)
  const groups = new Map<string, number>()
  for (const [key, ms] of after) {
    const name = key.slice(0, key.lastIndexOf('#'))
    // Bun's worker threads share names with their roles; number-suffixed names are folded together.
    const group = name.replace(/\d+$/, '')
    groups.set(group, (groups.get(group) ?? 0) + ms - (before.get(key) ?? 0))
  }
  const requests = r.completedTotal
  const unit = mode === 'stream' ? 'stream' : 'request'
  process.stdout.write(
    `${values.binary ?? 'src/main.ts'}, ${mode}, ${concurrency} concurrent, ${seconds} s after ${warmupSeconds} s warm-up${otlp ? `, tracing ${values.sampler}${values.sampler.endsWith('ratio') ? ` ${values['sampler-arg']}` : ''}` : ''}: ` +
      `${r.perSecond.toFixed(0)} ${unit}s/s, p50 ${r.p50.toFixed(2)} ms, errors ${r.errors}` +
      (otlp ? `, OTLP ${otlp.received.requests} requests ${(otlp.received.bytes / 1024).toFixed(0)} KiB` : '') +
      '\n\n| thread | µs per ' + unit + ' |\n|---|---:|\n',
  )
  let total = 0
  for (const [group, ms] of [...groups].sort((a, b) => b[1] - a[1])) {
    total += ms
    if (ms > 0) process.stdout.write(`| ${group} | ${((ms * 1000) / requests).toFixed(1)} |\n`)
  }
  process.stdout.write(`| all | ${((total * 1000) / requests).toFixed(1)} |\n`)
} finally {
  await gateway.stop()
  await engine.stop()
  await otlp?.stop()
  rmSync(tmp, { recursive: true, force: true })
}
