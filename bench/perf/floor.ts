// The `floor` target: the least any Bun gateway costs. A minimal pass-through proxy in its own
// process: Bun.serve whose fetch forwards method, headers and the (read) body to the engine with
// Bun's fetch, and returns the engine's Response with its body streamed through untouched.
// Usage: bun bench/perf/floor.ts --upstream http://127.0.0.1:PORT ; prints `READY <port>`.
import { parseArgs } from 'node:util'

const { values } = parseArgs({ args: process.argv.slice(2), options: { upstream: { type: 'string' } } })
const upstream = values.upstream
if (!upstream) throw new Error('--upstream URL is required')

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  idleTimeout: 0,
  async fetch(req) {
    const url = new URL(req.url)
    // A gateway has to read the body (it is JSON it must look at), so the floor reads it too.
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer()
    const res = await fetch(upstream + url.pathname + url.search, { method: req.method, headers: req.headers, body, signal: req.signal })
    return new Response(res.body, { status: res.status, headers: res.headers })
  },
})
process.stdout.write(`READY ${server.port}\n`)
process.on('SIGTERM', () => {
  server.stop(true)
  process.exit(0)
})
