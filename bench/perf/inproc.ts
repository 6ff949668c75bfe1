// The gateway's own CPU per request, with nothing else in the measurement: the app assembled as in
// main.ts, driven in process through `app.handle` by 32 concurrent callers, with the engine call
// answered at once by a stub (no sockets, no fake engine, no load driver). What it measures is
// Elysia, the hooks, validation, routing, dispatch, metrics and the request log line: the code a
// change to src/ touches. Steadier than a loopback run (about ±0.5 µs), so it suits A/B of one change;
// the loopback benches (perf.bench.ts, perf/threads.ts) remain the judge of the whole.
//   bun bench/perf/inproc.ts [--requests 200000] [--rounds 3] [--log-level info] [--otlp [--sampler always_on] [--sampler-arg 1]]
// --otlp: tracing on (sampler always_on unless --sampler names another OTEL_TRACES_SAMPLER, with
// --sampler-arg as its OTEL_TRACES_SAMPLER_ARG), every sampled span exported to an OTLP sink
// in a child process; the figure is then the request thread's share of tracing (encoding included).
// With `bun --cpu-prof --cpu-prof-dir=DIR bench/perf/inproc.ts` it gives a profile of just that code
// (summarize it with `bun bench/perf/profile.ts --summarize DIR/FILE.cpuprofile`).
import { parseArgs } from 'node:util'
import { loadConfig, type LogLevel } from '../../src/config'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'
import { assembleGateway } from '../../src/gateway'
import { createLogger } from '../../src/telemetry/logger'
import { createTracing } from '../../src/telemetry/tracing'
import { startScript } from './procs'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    requests: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    'log-level': { type: 'string', default: 'info' },
    otlp: { type: 'boolean', default: false },
    sampler: { type: 'string', default: 'always_on' },
    'sampler-arg': { type: 'string', default: '1' },
  },
})
const requests = Math.min(2_000_000, Number(values.requests))
const rounds = Math.min(20, Number(values.rounds))

const answer =
  '{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}'
const engineFetch = async (url: string) => {
  if (url.endsWith('/models')) return Response.json({ object: 'list', data: [{ id: 'm', object: 'model' }] })
  if (url.endsWith('/chat/completions')) return new Response(answer, { headers: { 'content-type': 'application/json' } })
  return new Response('ok')
}
// The OTLP sink runs in its own process: receiving the spans must not count against this thread.
const otlp = values.otlp ? await startScript('otlp-sink', 'otlp-sink.ts', []) : undefined
const env = otlp ? { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`, OTEL_TRACES_SAMPLER: values.sampler, OTEL_TRACES_SAMPLER_ARG: values['sampler-arg'] } : {}
const cli = loadConfig({ argv: ['--engine', 'http://127.0.0.1:9/v1', '--db', ':memory:'], env })
if (cli.action !== 'run') throw new Error('unexpected CLI action')
const db = openDatabase(':memory:')
migrate(db)
// The request log goes to stdout as in production: send it to /dev/null when running this.
const log = createLogger(values['log-level'] as LogLevel)
const tracing = createTracing(cli.config.telemetry, { log })
const { app, registry } = assembleGateway({ config: cli.config, db, log, engineFetch, tracing })
await registry.start()
for (let i = 0; i < 100 && registry.all[0]?.state !== 'READY'; i++) await Bun.sleep(10)

const body = JSON.stringify({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'Say something short.' }] })
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) }
const one = async () => {
  const res = await app.handle(new Request('http://127.0.0.1:8080/v1/chat/completions', { method: 'POST', headers, body }))
  if (res.status !== 200) throw new Error(`answered ${res.status}: ${await res.text()}`)
  await res.text()
}
for (let round = 0; round < rounds; round++) {
  let started = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (started++ < requests) {
        await one()
        // Everything above settles in microtasks: yield now and then so timers and setImmediate
        // callbacks (Elysia's after-response hooks, the log flush) run as they would under real I/O.
        if (started % 32 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    }),
  )
  const heap = process.memoryUsage().heapUsed / 1048576
  process.stderr.write(`round ${round + 1}: ${(((performance.now() - t) * 1000) / requests).toFixed(2)} µs per request (heap ${heap.toFixed(0)} MiB)\n`)
}
registry.stop()
await tracing.shutdown()
await otlp?.stop()
process.exit(0)
