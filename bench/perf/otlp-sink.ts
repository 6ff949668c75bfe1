// The OTLP/HTTP sink of procs.ts as its own process (for benches whose measured process must not also
// receive the spans). Prints `READY <port>`; on SIGTERM, what it received.
import { startOtlpSink } from './procs'

const sink = startOtlpSink()
process.stdout.write(`READY ${new URL(sink.url).port}\n`)
process.on('SIGTERM', async () => {
  process.stderr.write(`otlp-sink: ${sink.received.requests} requests, ${(sink.received.bytes / 1024).toFixed(0)} KiB\n`)
  await sink.stop()
  process.exit(0)
})
