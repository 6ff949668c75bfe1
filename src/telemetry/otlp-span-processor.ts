// The span processor of an exporting tracer: every sampled span is encoded to OTLP/protobuf the moment
// it ends (otlp-encoding.ts: about a microsecond, and the SDK's span object dies young) into the batch
// being filled, and a full batch (or one whose delay is up) goes out through the OTLP/HTTP exporter:
// the transport, retries, timeout and OTEL_EXPORTER_OTLP_* settings of OpenTelemetry's own
// exporter-trace-otlp-proto, which is built the same way with the SDK's serializer in place of ours.
// Nothing is queued without bound: spans handed over but not yet sent are counted, and past a limit
// new spans are dropped (and the drop logged) until the collector catches up.
import { TraceFlags } from '@opentelemetry/api'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base'
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace'
import type { Logger } from './logger'
import { EncodedSpanBatch } from './otlp-encoding'

export interface OtlpSpanProcessorOptions {
  /** The OTLP/HTTP traces URL. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly log: Logger
  /** Spans per export request. */
  readonly batchSize?: number
  /** Encoded bytes past which a batch leaves before it has batchSize spans (large recorded prompts). */
  readonly batchBytes?: number
  /** Longest time a finished span waits for its batch to fill, ms. */
  readonly delayMs?: number
  /** Spans handed to the exporter but not yet sent past which new spans are dropped (an unreachable collector). */
  readonly maxPending?: number
}

/** An export request already encoded, and how many spans it holds (for the exporter's own accounting). */
interface EncodedRequest {
  readonly bytes: Uint8Array
  readonly spans: number
}

/**
 * Exports in flight at once. A batch due while they are (a slow or stalled collector) waits and keeps
 * filling until one is over: a few large requests rather than one connection per small batch.
 */
const MAX_EXPORTS = 8

/** Failed exports are logged at most once in this long, with how many failed since the last line. */
const FAILURE_LOG_MS = 10_000

/** Longest wait for the exporter to send what it holds at a flush or at shutdown. */
const FLUSH_TIMEOUT_MS = 5000

async function withinFlushTimeout(work: Promise<void>): Promise<void> {
  let timeout: ReturnType<typeof setTimeout> | undefined
  await Promise.race([work, new Promise<void>((resolve) => (timeout = setTimeout(resolve, FLUSH_TIMEOUT_MS)))])
  clearTimeout(timeout)
}

/** The OTLP/protobuf trace exporter over HTTP, taking requests this process encoded. */
function otlpExporter(url: string, headers: Readonly<Record<string, string>>, concurrencyLimit: number): OTLPExporterBase<EncodedRequest> {
  const options = convertLegacyHttpOptions({ url, headers: { ...headers }, concurrencyLimit }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' })
  const serializer = {
    serializeRequest: (request: EncodedRequest) => request.bytes,
    deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
  }
  const spans = { name: 'span' as const, countItems: (request: EncodedRequest) => request.spans }
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', spans, undefined))
}

export class OtlpSpanProcessor implements SpanProcessor {
  private readonly exporter: OTLPExporterBase<EncodedRequest>
  private readonly batchSize: number
  private readonly batchBytes: number
  private readonly delayMs: number
  private readonly maxPending: number
  private readonly batch = new EncodedSpanBatch()
  /** Spans handed to the exporter whose export is not over. */
  private pending = 0
  /** Exports not over, and whether a batch is due but waits for one of them to end. */
  private exports = 0
  private due = false
  /** Exports over so far (drain's sign of progress). */
  private ended = 0
  /** Failed exports not logged yet (see FAILURE_LOG_MS), and the last one's details. */
  private failed = { batches: 0, spans: 0, last: {} as Record<string, unknown> }
  private failureLoggedAt = -Infinity
  private dropped = 0
  private timer?: ReturnType<typeof setTimeout>
  private closed = false

  constructor(private readonly options: OtlpSpanProcessorOptions) {
    this.batchSize = options.batchSize ?? 512
    this.batchBytes = options.batchBytes ?? 4 * 1024 * 1024
    this.delayMs = options.delayMs ?? 200
    this.maxPending = options.maxPending ?? 16_384
    // Never reached: MAX_EXPORTS is the processor's own limit, and maxPending the one that drops spans.
    this.exporter = otlpExporter(options.url, options.headers, MAX_EXPORTS + 1)
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
    // A batch waiting for an export to end may grow past batchBytes, to four times it (recorded prompts).
    if (this.pending + this.batch.count >= this.maxPending || this.batch.bytes >= 4 * this.batchBytes) {
      if (this.dropped++ === 0) this.options.log.warning('span export is behind: dropping spans until the collector catches up', { max_pending: this.maxPending })
      return
    }
    this.batch.add(span)
    if (this.batch.count >= this.batchSize || this.batch.bytes >= this.batchBytes) this.handOver()
    else if (!this.timer) {
      this.timer = setTimeout(() => this.handOver(), this.delayMs)
      this.timer.unref()
    }
  }

  /** Hands the batch being filled to the exporter. */
  private handOver(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const spans = this.batch.count
    if (spans === 0) return
    if (this.exports >= MAX_EXPORTS) {
      this.due = true
      return
    }
    this.due = false
    this.exports++
    this.pending += spans
    const done = (result: ExportResult) => {
      this.exports--
      this.ended++
      this.pending -= spans
      if (this.due) this.handOver()
      if (result.code === ExportResultCode.SUCCESS) return
      // A batch the collector refused outright (OTLPExporterError) carries its status and answer; one
      // that kept failing with a retryable status or timing out only says so.
      const { code, data } = (result.error ?? {}) as { code?: unknown; data?: unknown }
      this.failed.batches++
      this.failed.spans += spans
      this.failed.last = { error: String(result.error), status: code, answer: typeof data === 'string' ? data.slice(0, 200) : undefined }
      if (performance.now() - this.failureLoggedAt >= FAILURE_LOG_MS) this.logFailures()
    }
    try {
      this.exporter.export({ bytes: this.batch.take(), spans }, done)
    } catch (error) {
      // Not expected of the exporter; if it happens, the spans are lost but never counted as pending.
      done({ code: ExportResultCode.FAILED, error: error as Error })
    }
    if (this.dropped > 0) {
      this.options.log.warning('spans dropped while span export was behind', { dropped: this.dropped })
      this.dropped = 0
    }
  }

  /** Resolves once every span ended so far is sent (or its export failed), or after the flush timeout. */
  async forceFlush(): Promise<void> {
    await withinFlushTimeout(this.drain())
  }

  /** Sends what is held (spans ending from now on are not taken) and stops, within the flush timeout. */
  async shutdown(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await withinFlushTimeout(this.drain().then(() => this.exporter.shutdown()))
    if (this.failed.batches > 0) this.logFailures()
  }

  /** One line for the exports that failed since the last: how many, and the last one's error. */
  private logFailures(): void {
    this.failureLoggedAt = performance.now()
    const { batches, spans, last } = this.failed
    this.options.log.warning('span export failed', { batches, spans, ...last })
    this.failed = { batches: 0, spans: 0, last: {} }
  }

  /** Hands over the batch and waits for every export, until none is left (a due batch leaves as one ends). */
  private async drain(): Promise<void> {
    for (;;) {
      this.handOver()
      if (this.exports === 0) return
      const ended = this.ended
      await this.exporter.forceFlush()
      // The exporter holds nothing more of ours (it did not call back): stop rather than spin.
      if (this.ended === ended) return
    }
  }
}
