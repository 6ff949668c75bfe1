// Where the gateway spends its time under load: runs `bun --cpu-prof --cpu-prof-md src/main.ts` (the
// same code as the binary, with readable function names) in front of the perf bench's fake engine,
// drives it with the perf bench's load driver, stops it with SIGTERM (the profile is written on exit)
// and prints the functions of src/ and elysia with the largest share of the JS thread's samples (the
// full Markdown profile from --cpu-prof-md and the .cpuprofile land in bench/out/prof/, git-ignored).
//   bun bench/perf/profile.ts [--mode nonstream|stream] [--concurrency 32] [--seconds 15] [--interval-us 500] [--pace-ms 20] [--head 40] [--otlp [--sampler NAME --sampler-arg R]]
//   (--otlp: the gateway exports its spans to an OTLP sink in this process, sampler always_on or --sampler/--sampler-arg)
//   bun bench/perf/profile.ts --summarize bench/out/prof/FILE.cpuprofile     (summary of an earlier profile)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, LIFTED_FETCH_CAP, SOURCE_MAIN, runDriver, startGateway, startOtlpSink, startScript } from './procs'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    mode: { type: 'string', default: 'nonstream' },
    concurrency: { type: 'string' },
    seconds: { type: 'string', default: '15' },
    'interval-us': { type: 'string', default: '500' },
    head: { type: 'string', default: '40' },
    'pace-ms': { type: 'string', default: '20' },
    summarize: { type: 'string' },
    otlp: { type: 'boolean', default: false },
    sampler: { type: 'string', default: 'always_on' },
    'sampler-arg': { type: 'string', default: '1' },
  },
})
if (values.summarize) {
  process.stdout.write(summarize(JSON.parse(readFileSync(values.summarize, 'utf8')) as CpuProfile, Number(values.head)))
  process.exit(0)
}
const mode = values.mode === 'stream' ? 'stream' : 'nonstream'
const concurrency = Number(values.concurrency ?? (mode === 'stream' ? 64 : 32))
const seconds = Math.min(120, Math.max(1, Number(values.seconds)))
const outDir = join(BENCH_DIR, 'out', 'prof')
mkdirSync(outDir, { recursive: true })
const tmp = mkdtempSync(join(tmpdir(), 'sagellm-prof-'))
const name = `gateway-${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`

const otlp = values.otlp ? startOtlpSink(values.sampler, values['sampler-arg']) : undefined
const engine = await startScript('engine', 'engine.ts', [])
const gateway = await startGateway({
  command: ['bun', '--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}`, `--cpu-prof-interval=${values['interval-us']}`, SOURCE_MAIN],
  engineUrl: `${engine.url}/v1`,
  dbPath: join(tmp, 'gateway.db'),
  env: { ...LIFTED_FETCH_CAP, ...otlp?.env },
})
try {
  const r = await runDriver(
    { url: `${gateway.url}/v1/chat/completions`, mode, concurrency, warmupMs: 2000, measureMs: seconds * 1000, tokens: 32, paceMs: Number(values['pace-ms']) },
    { proxyPid: gateway.pid, enginePid: engine.pid },
  )
  process.stderr.write(
    `profile: ${mode}, ${concurrency} concurrent, ${seconds} s: ${r.perSecond.toFixed(0)}/s, p50 ${r.p50.toFixed(2)} ms, errors ${r.errors}, ` +
      `gateway CPU ${((r.proxyCpuMs! * 1000) / r.completedTotal).toFixed(0)} µs per request\n`,
  )
} finally {
  // SIGTERM: the profile is written as the process exits.
  await gateway.stop()
  await engine.stop()
  await otlp?.stop()
  rmSync(tmp, { recursive: true, force: true })
}
const files = readdirSync(outDir).filter((f) => f.startsWith(name))
const md = files.find((f) => f.endsWith('.md'))
const json = files.find((f) => !f.endsWith('.md'))
if (!md || !json) throw new Error(`no profile named ${name} in ${outDir} (files: ${readdirSync(outDir).join(', ')})`)
process.stderr.write(`profile: ${join(outDir, md)}\n`)
process.stdout.write(summarize(JSON.parse(readFileSync(join(outDir, json), 'utf8')) as CpuProfile, Number(values.head)))

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[]
  samples: number[]
}

/**
 * Self and inclusive share of the JS thread's samples per function (by sample count: a sample's time
 * delta also holds the idle time before it). Rows for src/ and elysia, then native code, by self share.
 */
function summarize(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const root = join(BENCH_DIR, '..') + '/'
  const keyOf = (id: number) => {
    const f = byId.get(id)!.callFrame
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(root, '')}:${f.lineNumber + 1}` : '[native code]'
    return `${f.functionName || '(anonymous)'} | ${where}`
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  for (const id of profile.samples) {
    const k = keyOf(id)
    self.set(k, (self.get(k) ?? 0) + 1)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(at))
    for (const s of seen) total.set(s, (total.get(s) ?? 0) + 1)
  }
  const all = profile.samples.length
  const pct = (x = 0) => ((x * 100) / all).toFixed(1)
  const rows = (filter: (k: string) => boolean) =>
    [...self.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, n]) => `| ${pct(n)}% | ${pct(total.get(k))}% | ${k} |`)
  const head = '| self | total | function | location |\n|---:|---:|---|---|'
  const ours = (k: string) => k.includes('| src/') || k.includes('node_modules/elysia')
  return [
    `${all} samples on the JS thread`,
    '',
    '### src/ and elysia, by self share',
    head,
    ...rows(ours),
    '',
    '### everything else (native code, Bun internals, other packages), by self share',
    head,
    ...rows((k) => !ours(k)).slice(0, 15),
    '',
  ].join('\n')
}
