// A/B of two gateway binaries (say, before and after a change): both run side by side in front of one
// fake engine, and the load driver measures them in turn, round after round, so machine drift hits
// both alike. Prints each round and the medians: rate, p50 (TTFT for streams), mean chunk gap, CPU.
//   bun bench/perf/ab.ts --a dist-old/sagellm-gateway --b dist/sagellm-gateway [--mode nonstream|stream]
//       [--concurrency 32] [--rounds 5] [--measure-ms 3000] [--warmup-ms 1500] [--pace-ms 20] [--tokens 32]
//       [--api anthropic]   (Anthropic Messages requests to /v1/messages; the fake engine then paces every
//                            stream with --pace-ms itself, as that API takes no extra body field)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runDriver, startGateway, startScript } from './procs'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    mode: { type: 'string', default: 'nonstream' },
    concurrency: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    'measure-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '1500' },
    'pace-ms': { type: 'string', default: '20' },
    tokens: { type: 'string', default: '32' },
    api: { type: 'string', default: 'openai' },
  },
})
if (!values.a || !values.b) throw new Error('--a BINARY and --b BINARY are required')
const mode = values.mode === 'stream' ? 'stream' : 'nonstream'
const concurrency = Number(values.concurrency ?? (mode === 'stream' ? 64 : 32))
const rounds = Math.min(20, Math.max(1, Number(values.rounds)))
const measureMs = Math.min(30_000, Number(values['measure-ms']))

const tmp = mkdtempSync(join(tmpdir(), 'sagellm-ab-'))
const api = values.api === 'anthropic' ? 'anthropic' : 'openai'
const engine = await startScript('engine', 'engine.ts', api === 'anthropic' ? ['--pace-ms', values['pace-ms']!, '--tokens', values.tokens!] : [])
const targets = [
  await startGateway({ binary: values.a, engineUrl: `${engine.url}/v1`, dbPath: join(tmp, 'a.db'), name: 'a' }),
  await startGateway({ binary: values.b, engineUrl: `${engine.url}/v1`, dbPath: join(tmp, 'b.db'), name: 'b' }),
]
const rows: Record<string, { rate: number; p50: number; gap: number; cpu: number }[]> = { a: [], b: [] }
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
try {
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs right after the other's load.
    for (const target of round % 2 ? [...targets].reverse() : targets) {
      const r = await runDriver(
        {
          url: `${target.url}${api === 'anthropic' ? '/v1/messages' : '/v1/chat/completions'}`,
          mode,
          api,
          concurrency,
          warmupMs: Number(values['warmup-ms']),
          measureMs,
          tokens: Number(values.tokens),
          paceMs: Number(values['pace-ms']),
        },
        { proxyPid: target.pid, enginePid: engine.pid },
      )
      const row = { rate: r.perSecond, p50: r.p50, gap: r.meanGap ?? NaN, cpu: (r.proxyCpuMs! * 1000) / r.completedTotal }
      rows[target.name]!.push(row)
      process.stdout.write(
        `round ${round + 1} ${target.name}: ${row.rate.toFixed(0)}/s p50 ${row.p50.toFixed(3)} ms gap ${row.gap.toFixed(3)} ms CPU ${row.cpu.toFixed(0)} µs, errors ${r.errors}\n`,
      )
    }
  }
  for (const name of ['a', 'b']) {
    const r = rows[name]!
    process.stdout.write(
      `median ${name}: ${median(r.map((x) => x.rate)).toFixed(0)}/s p50 ${median(r.map((x) => x.p50)).toFixed(3)} ms gap ${median(r.map((x) => x.gap)).toFixed(3)} ms CPU ${median(r.map((x) => x.cpu)).toFixed(0)} µs\n`,
    )
  }
} finally {
  for (const t of targets) await t.stop()
  await engine.stop()
  rmSync(tmp, { recursive: true, force: true })
}
