// An OTLP/HTTP receiver that counts and drops what it is sent, as its own process (for benches whose
// measured process must not also receive the spans). Prints `READY <port>`; on SIGTERM, the counts.
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
process.stdout.write(`READY ${server.port}\n`)
process.on('SIGTERM', () => {
  process.stderr.write(`otlp-sink: ${received.requests} requests, ${(received.bytes / 1024).toFixed(0)} KiB\n`)
  server.stop(true)
  process.exit(0)
})
