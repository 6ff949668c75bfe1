// The span processor of an exporting tracer: every sampled span is encoded to OTLP/protobuf the moment
// it ends (otlp-encoding.ts: about a microsecond, and the SDK's span object dies young) into the batch
// being filled, and a full batch (or one whose delay is up) goes out through the OTLP exporter of
// @opentelemetry/otlp-exporter-base (its export timeout, concurrency and OTEL_EXPORTER_OTLP_* settings,
// read as exporter-trace-otlp-proto reads them) over a fetch transport (otlp-fetch-transport.ts: the
// node-http transport's behaviour and retries, without node:http's streams).
// Nothing is queued without bound: spans handed over but not yet sent are counted, and past a limit
// new spans are dropped (and the drop logged) until the collector catches up.
import { TraceFlags } from '@opentelemetry/api'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { createOtlpNetworkExportDelegate, ExporterMetrics, OTLPExporterBase, OTLPExporterError } from '@opentelemetry/otlp-exporter-base'
import { convertLegacyHttpOptions } from '@opentelemetry/otlp-exporter-base/node-http'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace'
import type { Logger } from './logger'
import { EncodedSpanBatch } from './otlp-encoding'
import { FetchTransport } from './otlp-fetch-transport'
import type { CollectorTls } from './telemetry-config'

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
  /** Failed exports are logged at most once in this long, ms, with how many failed since the last line. */
  readonly failureLogMs?: number
  /** Longest wait for what is held to be sent at a flush or at shutdown, ms. */
  readonly flushTimeoutMs?: number
  /** An https collector's TLS settings. */
  readonly tls?: CollectorTls
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

/** Whether `work` settled within `ms` (false: it was left running). */
async function within(ms: number, work: Promise<void>): Promise<boolean> {
  let timeout: ReturnType<typeof setTimeout> | undefined
  const settled = await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timeout = setTimeout(resolve, ms, false)))])
  clearTimeout(timeout)
  return settled
}

/** The OTLP/protobuf trace exporter over HTTP (fetch), taking requests this process encoded. */
function otlpExporter(
  url: string,
  headers: Readonly<Record<string, string>>,
  tls: CollectorTls | undefined,
  concurrencyLimit: number,
): { exporter: OTLPExporterBase<EncodedRequest>; transport: FetchTransport } {
  // The OTEL_EXPORTER_OTLP_* settings (endpoint, headers, timeout, compression) read as the SDK's exporter reads them.
  const options = convertLegacyHttpOptions({ url, headers: { ...headers }, concurrencyLimit }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' })
  const serializer = {
    serializeRequest: (request: EncodedRequest) => request.bytes,
    deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
  }
  const metrics = new ExporterMetrics<EncodedRequest>({
    componentType: 'otlp_http_span_exporter',
    metricsHelper: { name: 'span', countItems: (request) => request.spans },
    url: options.url,
    meterProvider: undefined,
    responseAttributesFromError: (error) => (error instanceof OTLPExporterError ? { 'http.response.status_code': error.code } : error ? {} : { 'http.response.status_code': 200 }),
  })
  const transport = new FetchTransport({ url: options.url, headers: options.headers, compression: options.compression, userAgent: options.userAgent, tls })
  return { exporter: new OTLPExporterBase(createOtlpNetworkExportDelegate(options, serializer, metrics, transport)), transport }
}

/** A flush waiting for every export numbered below `before` to be over. */
interface FlushWaiter {
  readonly before: number
  readonly resolve: () => void
}

export class OtlpSpanProcessor implements SpanProcessor {
  private readonly exporter: OTLPExporterBase<EncodedRequest>
  /** The exporter's transport, stopped outright when shutdown runs out of time. */
  private readonly transport: FetchTransport
  private readonly batchSize: number
  private readonly batchBytes: number
  private readonly delayMs: number
  private readonly maxPending: number
  private readonly failureLogMs: number
  private readonly flushTimeoutMs: number
  private readonly batch = new EncodedSpanBatch()
  /** Spans handed to the exporter whose export is not over. */
  private pending = 0
  /** Exports started so far; the numbers (in start order) of those not over; whether a batch is due but waits for one of them to end. */
  private started = 0
  private readonly inFlight = new Set<number>()
  private due = false
  private waiters: FlushWaiter[] = []
  /** Failed exports not logged yet (see failureLogMs), and the last one's details. */
  private failed = { batches: 0, spans: 0, last: {} as Record<string, unknown> }
  private failureLoggedAt = -Infinity
  private failureTimer?: ReturnType<typeof setTimeout>
  private dropped = 0
  private timer?: ReturnType<typeof setTimeout>
  /** Set by shutdown: from then on ended spans are not taken. */
  private closing?: Promise<void>
  /** Shutdown is over: exports it cut short are already counted as not sent. */
  private stopped = false

  constructor(private readonly options: OtlpSpanProcessorOptions) {
    this.batchSize = options.batchSize ?? 512
    this.batchBytes = options.batchBytes ?? 4 * 1024 * 1024
    this.delayMs = options.delayMs ?? 200
    this.maxPending = options.maxPending ?? 16_384
    this.failureLogMs = options.failureLogMs ?? 10_000
    this.flushTimeoutMs = options.flushTimeoutMs ?? 5000
    // Never reached: MAX_EXPORTS is the processor's own limit, and maxPending the one that drops spans.
    const { exporter, transport } = otlpExporter(options.url, options.headers, options.tls, 2 * MAX_EXPORTS)
    this.exporter = exporter
    this.transport = transport
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closing || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
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
    if (this.inFlight.size >= MAX_EXPORTS) {
      this.due = true
      return
    }
    this.due = false
    const id = this.started++
    this.inFlight.add(id)
    this.pending += spans
    let over = false
    const done = (result: ExportResult) => {
      if (over) return
      over = true
      this.inFlight.delete(id)
      this.pending -= spans
      if (this.due) this.handOver()
      if (result.code !== ExportResultCode.SUCCESS && !this.stopped) this.failure(result, spans)
      if (this.waiters.length > 0) this.wakeFlushes()
    }
    try {
      this.exporter.export({ bytes: this.batch.take(), spans }, done)
    } catch (error) {
      // Not expected of the exporter; if it happens, the spans are lost but never counted as pending.
      done({ code: ExportResultCode.FAILED, error: error as Error })
    }
    this.logDropped()
  }

  /** Counts a failed export, and logs the failures unless a line went out within failureLogMs (then a timer does, once it has passed). */
  private failure(result: ExportResult, spans: number): void {
    // A batch the collector refused outright (OTLPExporterError) carries its status and answer; one
    // that kept failing with a retryable status or timing out only says so.
    const { code, data } = (result.error ?? {}) as { code?: unknown; data?: unknown }
    this.failed.batches++
    this.failed.spans += spans
    this.failed.last = { error: String(result.error), status: code, answer: typeof data === 'string' ? data.slice(0, 200) : undefined }
    const since = performance.now() - this.failureLoggedAt
    if (since >= this.failureLogMs) this.logFailures()
    else if (!this.failureTimer) {
      this.failureTimer = setTimeout(() => this.logFailures(), this.failureLogMs - since)
      this.failureTimer.unref()
    }
  }

  /** Resolves once every span ended before the call is sent (or its export failed), or after the flush timeout. */
  async forceFlush(): Promise<void> {
    await within(this.flushTimeoutMs, this.drain())
    this.logDropped()
  }

  /** Sends what is held (spans ending from now on are not taken) and stops, within the flush timeout; a second call waits for the first. */
  shutdown(): Promise<void> {
    return (this.closing ??= this.close())
  }

  private async close(): Promise<void> {
    const finished = await within(
      this.flushTimeoutMs,
      this.drain().then(() => this.exporter.shutdown()),
    )
    this.stopped = true
    if (this.failed.batches > 0) this.logFailures()
    clearTimeout(this.failureTimer)
    this.logDropped()
    if (finished) return
    const unsent = this.pending + this.batch.count
    if (unsent > 0) this.options.log.warning('span export did not finish at shutdown: spans not sent', { spans: unsent, timeout_ms: this.flushTimeoutMs })
    // What is still being sent (or waits to be retried) stops now, rather than keep the process alive.
    this.transport.shutdown()
  }

  /** One line for the exports that failed since the last: how many, and the last one's error. */
  private logFailures(): void {
    clearTimeout(this.failureTimer)
    this.failureTimer = undefined
    if (this.failed.batches === 0) return
    this.failureLoggedAt = performance.now()
    const { batches, spans, last } = this.failed
    this.options.log.warning('span export failed', { batches, spans, ...last })
    this.failed = { batches: 0, spans: 0, last: {} }
  }

  /** The count of spans dropped since the last line, if any. */
  private logDropped(): void {
    if (this.dropped === 0) return
    this.options.log.warning('spans dropped while span export was behind', { dropped: this.dropped })
    this.dropped = 0
  }

  /**
   * Hands over the batch and resolves once every export started so far, and the batch if it is due
   * (it leaves as the next export), is over. Exports started later (spans ended after the call) are
   * not waited for, so a flush under steady traffic ends.
   */
  private drain(): Promise<void> {
    this.handOver()
    const before = this.started + (this.due ? 1 : 0)
    if (this.settled(before)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ before, resolve }))
  }

  /** Whether every export numbered below `before` has started and is over (inFlight keeps start order). */
  private settled(before: number): boolean {
    if (this.started < before) return false
    const oldest = this.inFlight.values().next()
    return oldest.done || oldest.value >= before
  }

  private wakeFlushes(): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (!this.settled(waiter.before)) return true
      waiter.resolve()
      return false
    })
  }
}
