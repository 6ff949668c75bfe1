// CI smoke check of tracing in the built executable: its span export worker is embedded and runs.
// Starts a loopback OTLP receiver, runs the binary with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it,
// sends one chat to the mock engine, stops the binary with SIGTERM (which flushes spans) and expects
// at least one OTLP/protobuf export. Usage: bun .ci/smoke-tracing.ts path/to/sagellm-gateway
const binary = process.argv[2]
if (!binary) throw new Error('usage: bun .ci/smoke-tracing.ts path/to/sagellm-gateway')
let exports = 0
const receiver = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    if ((await req.arrayBuffer()).byteLength > 0 && req.headers.get('content-type') === 'application/x-protobuf') exports++
    return new Response(new Uint8Array(), { headers: { 'content-type': 'application/x-protobuf' } })
  },
})
const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
const port = probe.port
await probe.stop(true)
const child = Bun.spawn([binary, '--mock', '--host', '127.0.0.1', '--port', String(port), '--db', ':memory:', '--log-level', 'warning'], {
  env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}` },
  stdout: 'inherit',
  stderr: 'inherit',
  timeout: 30_000,
})
const base = `http://127.0.0.1:${port}`
let answered = false
for (let i = 0; i < 100 && !answered; i++) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'trace me' }] }),
  }).catch(() => undefined)
  answered = res?.ok === true
  if (!answered) await Bun.sleep(100)
}
child.kill('SIGTERM')
const status = await child.exited
receiver.stop(true)
if (!answered) throw new Error('the gateway never answered the chat')
if (status !== 0) throw new Error(`the gateway exited with ${status}`)
if (exports === 0) throw new Error('no span export reached the OTLP receiver')
console.log(`tracing: ${exports} OTLP export(s) received`)
