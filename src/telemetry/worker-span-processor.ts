// The span processor of an exporting tracer: every sampled span is flattened the moment it ends (so
// the SDK's span objects die young instead of waiting in a queue, which kept the garbage collector
// busy) and handed in batches to the export worker, which encodes OTLP/protobuf and sends it. The
// request thread pays for the flattening and one JSON string per batch; nothing else of the export.
import { TraceFlags } from '@opentelemetry/api'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace'
import type { Logger } from './logger'
import { appendSpan, SpanBatch } from './span-transfer'

export interface WorkerSpanProcessorOptions {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly resource: Readonly<Record<string, string>>
  readonly log: Logger
  /**
   * Where the worker's module is. Default: beside this file, which holds when running from source; the
   * compiled executable embeds it under its own root, so main.ts passes the URL relative to itself.
   */
  readonly workerUrl?: string
  /** Spans per batch handed to the worker. */
  readonly batchSize?: number
  /** Longest time a finished span waits for its batch to fill, ms. */
  readonly delayMs?: number
  /** Spans handed over but not yet sent past which new spans are dropped (an unreachable collector). */
  readonly maxPending?: number
}

/** Longest wait for the worker to send what it holds at shutdown. */
const FLUSH_TIMEOUT_MS = 5000

type WorkerMessage = { type: 'flushed'; id: number } | { type: 'sent'; spans: number }

export class WorkerSpanProcessor implements SpanProcessor {
  private readonly worker: Worker
  private readonly batchSize: number
  private readonly delayMs: number
  private readonly maxPending: number
  private batch = new SpanBatch()
  private pending = 0
  private dropped = 0
  private timer?: ReturnType<typeof setTimeout>
  private flushes = 0
  private readonly waiting = new Map<number, () => void>()
  private closed = false

  constructor(private readonly options: WorkerSpanProcessorOptions) {
    this.batchSize = options.batchSize ?? 512
    this.delayMs = options.delayMs ?? 200
    this.maxPending = options.maxPending ?? 16_384
    this.worker = new Worker(options.workerUrl ?? new URL('./export-worker.ts', import.meta.url).href)
    this.worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      if (event.data.type === 'sent') this.pending -= event.data.spans
      else this.waiting.get(event.data.id)?.()
    }
    // The worker must not keep the process alive on its own.
    this.worker.unref()
    this.worker.postMessage({ type: 'init', url: options.url, headers: { ...options.headers }, resource: { ...options.resource } })
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
    if (this.pending + this.batch.count >= this.maxPending) {
      if (this.dropped++ === 0) this.options.log.warning('span export is behind: dropping spans until the collector catches up', { max_pending: this.maxPending })
      return
    }
    appendSpan(this.batch, span)
    if (this.batch.count >= this.batchSize) this.handOver()
    else if (!this.timer) {
      this.timer = setTimeout(() => this.handOver(), this.delayMs)
      this.timer.unref()
    }
  }

  /** Sends the batch being filled to the worker. */
  private handOver(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const { count, flat } = this.batch
    if (count === 0) return
    this.worker.postMessage({ type: 'spans', spans: count, json: JSON.stringify(flat) })
    this.pending += count
    this.batch = new SpanBatch()
    if (this.dropped > 0) {
      this.options.log.warning('spans dropped while span export was behind', { dropped: this.dropped })
      this.dropped = 0
    }
  }

  /** Resolves once the worker has sent every span ended so far (or after the flush timeout). */
  async forceFlush(): Promise<void> {
    this.handOver()
    const id = ++this.flushes
    let timeout: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      new Promise<void>((resolve) => {
        this.waiting.set(id, resolve)
        this.worker.postMessage({ type: 'flush', id })
      }),
      new Promise<void>((resolve) => (timeout = setTimeout(resolve, FLUSH_TIMEOUT_MS))),
    ])
    clearTimeout(timeout)
    this.waiting.delete(id)
  }

  async shutdown(): Promise<void> {
    if (this.closed) return
    await this.forceFlush()
    this.closed = true
    this.worker.terminate()
  }
}
