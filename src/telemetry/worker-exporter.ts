// A SpanExporter for the BatchSpanProcessor that hands each batch to the export worker as plain data:
// the request thread pays for a structured clone, the worker for OTLP encoding and the HTTP export.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { toPlainSpan } from './span-transfer'

export interface WorkerExporterOptions {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly resource: Readonly<Record<string, string>>
  /**
   * Where the worker's module is. Default: beside this file, which holds when running from source; the
   * compiled executable embeds it under its own root, so main.ts passes the URL relative to itself.
   */
  readonly workerUrl?: string
}

/** Longest wait for the worker to send what it holds at shutdown. */
const FLUSH_TIMEOUT_MS = 5000

export class WorkerSpanExporter implements SpanExporter {
  private readonly worker: Worker
  private flushes = 0
  private readonly waiting = new Map<number, () => void>()

  constructor(options: WorkerExporterOptions) {
    this.worker = new Worker(options.workerUrl ?? new URL('./export-worker.ts', import.meta.url).href)
    this.worker.onmessage = (event: MessageEvent<{ type: string; id: number }>) => {
      if (event.data.type === 'flushed') this.waiting.get(event.data.id)?.()
    }
    // The worker must not keep the process alive on its own.
    this.worker.unref()
    this.worker.postMessage({ type: 'init', url: options.url, headers: { ...options.headers }, resource: { ...options.resource } })
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    // One JSON string per batch: much cheaper for the request thread than a structured clone of objects.
    this.worker.postMessage({ type: 'spans', json: JSON.stringify(spans.map(toPlainSpan)) })
    resultCallback({ code: ExportResultCode.SUCCESS })
  }

  /** Resolves once the worker has sent every batch handed to it (or after the flush timeout). */
  async forceFlush(): Promise<void> {
    const id = ++this.flushes
    await Promise.race([
      new Promise<void>((resolve) => {
        this.waiting.set(id, resolve)
        this.worker.postMessage({ type: 'flush', id })
      }),
      Bun.sleep(FLUSH_TIMEOUT_MS),
    ])
    this.waiting.delete(id)
  }

  async shutdown(): Promise<void> {
    await this.forceFlush()
    this.worker.terminate()
  }
}
