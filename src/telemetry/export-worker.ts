// The span export worker: turns batches of finished spans into OTLP/protobuf and sends them with the
// standard exporter, on its own thread, so encoding and HTTP never run on the request path.
// Messages in: init {url, headers, resource}, spans {spans, json: FlatSpans as JSON}, flush {id};
// out: sent {spans} once a batch's export is over (sent or failed), flushed {id}.
import { ExportResultCode } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources'
import { readSpans, type FlatSpans } from './span-transfer'

declare const self: Worker

type Message =
  | { type: 'init'; url: string; headers: Record<string, string>; resource: Record<string, string> }
  | { type: 'spans'; spans: number; json: string }
  | { type: 'flush'; id: number }

let exporter: OTLPTraceExporter | undefined
let resource: Resource | undefined
const pending = new Set<Promise<void>>()

self.onmessage = (event: MessageEvent<Message>) => {
  const message = event.data
  if (message.type === 'init') {
    exporter = new OTLPTraceExporter({ url: message.url, headers: message.headers })
    resource = resourceFromAttributes(message.resource)
  } else if (message.type === 'spans' && exporter && resource) {
    const spans = readSpans(JSON.parse(message.json) as FlatSpans, resource)
    const sent = new Promise<void>((resolve) =>
      exporter!.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) console.error(JSON.stringify({ ts: new Date().toISOString(), level: 'warning', msg: 'span export failed', error: String(result.error) }))
        resolve()
      }),
    )
    pending.add(sent)
    void sent.finally(() => {
      pending.delete(sent)
      self.postMessage({ type: 'sent', spans: message.spans })
    })
  } else if (message.type === 'flush') {
    void Promise.all(pending).then(() => self.postMessage({ type: 'flushed', id: message.id }))
  }
}
