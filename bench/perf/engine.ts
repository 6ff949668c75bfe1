// The perf bench's fake inference engine, run as its own process so it never shares an event loop
// with the load driver or the proxy under test. Built to cost as little as possible per request:
//   POST /v1/chat/completions, non-stream  -> a fixed small JSON body (with usage), at once
//   POST /v1/chat/completions, "stream":true -> max_tokens token chunks; the first at once, then one
//        every pace ms on an absolute schedule (no drift), then a finish chunk, the usage-only chunk when
//        stream_options.include_usage is asked (the gateway asks), and `data: [DONE]`
//   GET /v1/models, GET /health            -> what the gateway's health checks want
// A stream request's `max_tokens` sets its number of token chunks (up to 4 096) and an extra body field
// `bench_pace_ms` its pace (the gateway passes unknown fields on); --tokens and --pace-ms are defaults.
// Usage: bun bench/perf/engine.ts --tokens 32 --pace-ms 20 ; prints `READY <port>` once listening.
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { tokens: { type: 'string', default: '32' }, 'pace-ms': { type: 'string', default: '20' }, model: { type: 'string', default: 'm' } },
})
const TOKENS = Math.max(1, Number(values.tokens))
const PACE_MS = Math.max(0, Number(values['pace-ms']))
const MODEL = values.model!

const JSON_HEADERS = { 'content-type': 'application/json' }
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }
const created = Math.floor(Date.now() / 1000)
const usage = { prompt_tokens: 8, completion_tokens: TOKENS, total_tokens: 8 + TOKENS }
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'The quick brown fox jumps over the lazy dog.' }, logprobs: null, finish_reason: 'stop' }],
  usage,
})
const MODELS = JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created, owned_by: 'bench' }] })
const HEALTH = '{"status":"ok"}'

// Every SSE event is built once: a stream only writes pre-encoded bytes.
const enc = new TextEncoder()
const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: MODEL }
const event = (o: unknown) => enc.encode(`data: ${JSON.stringify(o)}\n\n`)
const MAX_TOKENS = 4096
const TOKEN_EVENTS = Array.from({ length: MAX_TOKENS }, (_, i) =>
  event({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: `tok${i} ` } : { content: `tok${i} ` }, logprobs: null, finish_reason: null }] }),
)
const FINISH = event({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })
const USAGE = new Map<number, Uint8Array>()
const usageEvent = (tokens: number) => {
  let e = USAGE.get(tokens)
  if (!e) USAGE.set(tokens, (e = event({ ...base, choices: [], usage: { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens } })))
  return e
}
const DONE = enc.encode('data: [DONE]\n\n')
const STREAM_RE = /"stream":\s*true/
const USAGE_RE = /"include_usage":\s*true/
const MAX_TOKENS_RE = /"max_tokens":\s*(\d+)/
const PACE_RE = /"bench_pace_ms":\s*(\d+(?:\.\d+)?)/

function stream(withUsage: boolean, tokens: number, paceMs: number, signal: AbortSignal): Response {
  const body = new ReadableStream({
    type: 'direct',
    async pull(controller: ReadableStreamDirectController) {
      const start = performance.now()
      for (let i = 0; i < tokens; i++) {
        if (signal.aborted) return controller.close()
        if (i > 0 && paceMs > 0) {
          const wait = start + i * paceMs - performance.now()
          if (wait > 0) await Bun.sleep(wait)
        }
        controller.write(TOKEN_EVENTS[i]!)
        await controller.flush()
      }
      controller.write(FINISH)
      if (withUsage) controller.write(usageEvent(tokens))
      controller.write(DONE)
      await controller.flush()
      controller.close()
    },
  })
  return new Response(body, { headers: SSE_HEADERS })
}

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  idleTimeout: 0,
  async fetch(req) {
    const path = new URL(req.url).pathname
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const text = await req.text()
      if (STREAM_RE.test(text)) {
        const tokens = Math.min(MAX_TOKENS, Math.max(1, Number(MAX_TOKENS_RE.exec(text)?.[1] ?? TOKENS)))
        const pace = Number(PACE_RE.exec(text)?.[1] ?? PACE_MS)
        return stream(USAGE_RE.test(text), tokens, pace, req.signal)
      }
      return new Response(COMPLETION, { headers: JSON_HEADERS })
    }
    if (path === '/v1/models') return new Response(MODELS, { headers: JSON_HEADERS })
    if (path === '/health') return new Response(HEALTH, { headers: JSON_HEADERS })
    return new Response('{"error":{"message":"not found"}}', { status: 404, headers: JSON_HEADERS })
  },
})
process.stdout.write(`READY ${server.port}\n`)
process.on('SIGTERM', () => {
  server.stop(true)
  process.exit(0)
})
