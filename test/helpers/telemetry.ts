// Telemetry tests' toolkit: a gateway exporting its traces to a loopback OTLP receiver (stopping the
// gateway flushes them, so a test reads spans once its requests are over), lookups of one request's
// SERVER span and its CLIENT (engine attempt) spans, a logger keeping the gateway's JSON lines, OpenAI
// chunks, an engine stream whose tail waits for the test, and a cleanup stack.
import { context, trace, TraceFlags, type Context } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import type { LogLevel } from '../../src/config'
import { createLogger, type Logger } from '../../src/telemetry/logger'
import { startFakeEngine, type FakeEngine } from './fake-engine'
import { startGateway, type TestGateway } from './gateway'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver'
import { waitFor } from './wait'

/** OTLP SpanKind values. */
export const SERVER = 2
export const CLIENT = 3

/** Stops what a test started, last started first. */
export class Cleanup {
  private readonly stops: (() => unknown)[] = []

  defer(stop: () => unknown): void {
    this.stops.push(stop)
  }

  async run(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop()
  }
}

export interface TracedGateway {
  readonly gw: TestGateway
  readonly receiver: OtlpReceiver
  /** Engines serving model `m`, each given to the gateway with --engine. */
  readonly engines: FakeEngine[]
  /** The gateway's log lines (debug and up). */
  readonly logs: CapturedLogs
  /**
   * Waits until these requests are over (a request's line is logged right after its SERVER span
   * ends, which is after the client has its answer), stops the gateway, which exports every span it
   * holds, and returns the spans the receiver got.
   */
  flushed(...requestIds: string[]): Promise<ReceivedSpan[]>
}

export interface TracedOptions {
  /** Gateway arguments besides one --engine per engine. */
  argv?: string[]
  /** OTEL_* variables besides OTEL_EXPORTER_OTLP_ENDPOINT (which points at the receiver). */
  env?: Record<string, string>
  engines?: number
  /** Arguments naming the engines; default `--engine URL` for each. */
  engineArgs?: (engines: FakeEngine[]) => string[]
}

export async function startTraced(cleanup: Cleanup, options: TracedOptions = {}): Promise<TracedGateway> {
  const { argv = [], env = {}, engines: count = 1, engineArgs = (list) => list.flatMap((e) => ['--engine', e.url]) } = options
  const receiver = await startOtlpReceiver()
  cleanup.defer(() => receiver.stop())
  const engines = await Promise.all(Array.from({ length: count }, () => startFakeEngine({ models: ['m'] })))
  for (const e of engines) cleanup.defer(() => e.stop())
  const logs = captureLogs('debug')
  const gw = await startGateway([...engineArgs(engines), ...argv], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env }, log: logs.log })
  let stopped: Promise<void> | undefined
  const stop = () => (stopped ??= gw.stop())
  cleanup.defer(stop)
  return {
    gw,
    receiver,
    engines,
    logs,
    async flushed(...requestIds) {
      await waitFor(() => requestIds.every((id) => logs.requestLines(id).length > 0), 3000, `the request lines of ${requestIds.join(', ')}`)
      await stop()
      return receiver.spans.slice()
    },
  }
}

/** The one SERVER span of the request with this x-request-id. */
export function serverSpanOf(spans: readonly ReceivedSpan[], requestId: string): ReceivedSpan {
  const found = spans.filter((s) => s.kind === SERVER && s.attributes['sagellm.request_id'] === requestId)
  if (found.length !== 1) throw new Error(`${found.length} SERVER spans for request ${requestId} among ${spans.map((s) => s.name).join(', ') || 'none'}`)
  return found[0]!
}

/** The CLIENT spans whose parent is `server`, by attempt number. */
export function attemptSpansOf(spans: readonly ReceivedSpan[], server: ReceivedSpan): ReceivedSpan[] {
  return spans
    .filter((s) => s.kind === CLIENT && s.traceId === server.traceId && s.parentSpanId === server.spanId)
    .sort((a, b) => Number(a.attributes['sagellm.attempt']) - Number(b.attributes['sagellm.attempt']))
}

/** Everything a span carries that an exporter sends, as text (to look for what must not be there). */
export function spanText(span: ReceivedSpan): string {
  return JSON.stringify(span, (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))
}

export interface LogLine {
  readonly level: string
  readonly msg: string
  readonly [field: string]: unknown
}

export interface CapturedLogs {
  readonly log: Logger
  /** Every line written, as written. */
  readonly raw: string[]
  /** Every line, parsed. */
  readonly lines: LogLine[]
  /** The `request` lines, optionally of one request id. */
  requestLines(requestId?: string): LogLine[]
}

/** The gateway's own JSON logger at `level`, writing into memory instead of stdout. */
export function captureLogs(level: LogLevel = 'debug'): CapturedLogs {
  const raw: string[] = []
  const lines: LogLine[] = []
  const log = createLogger(level, (line) => {
    raw.push(line)
    lines.push(JSON.parse(line) as LogLine)
  })
  return {
    log,
    raw,
    lines,
    requestLines: (requestId) => lines.filter((l) => l.msg === 'request' && (requestId === undefined || l.request_id === requestId)),
  }
}

const CHUNK_BASE = { id: 'chatcmpl-scripted-stream', object: 'chat.completion.chunk', created: 1, model: 'm' }

/** An OpenAI chat chunk with one choice. */
export function chatChunk(delta: Record<string, unknown>, finishReason: string | null = null): object {
  return { ...CHUNK_BASE, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }
}

/** The usage-only chunk that ends a stream asked for with include_usage. */
export function usageChunk(promptTokens: number, completionTokens: number): object {
  return { ...CHUNK_BASE, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } }
}

export interface GatedStream {
  /** The engine's SSE answer: `head` at once, `tail` once released. */
  readonly response: Response
  release(): void
}

/**
 * An engine SSE answer sending `head` at once and `tail` only after release(), each tail event
 * `tailDelayMs` after the previous one (an engine still generating), so the stream cannot end before
 * the test says so and ends measurably later.
 */
export function gatedSse(head: readonly (object | string)[], tail: readonly (object | string)[], tailDelayMs = 5): GatedStream {
  const encoder = new TextEncoder()
  const released = Promise.withResolvers<void>()
  const encode = (e: object | string) => encoder.encode(typeof e === 'string' ? e : `data: ${JSON.stringify(e)}\n\n`)
  let next = 0
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const e of head) controller.enqueue(encode(e))
    },
    async pull(controller) {
      await released.promise
      if (next >= tail.length) return controller.close()
      await Bun.sleep(tailDelayMs)
      controller.enqueue(encode(tail[next++]!))
    },
  })
  return { response: new Response(stream, { headers: { 'content-type': 'text/event-stream' } }), release: () => released.resolve() }
}

/** The wall clock in nanoseconds (millisecond resolution), comparable with span times. */
export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n

/** The request most tracing tests send, and a client trace context to continue. */
export const PROMPT = 'Say something about lighthouses'
export const CHAT = { model: 'm', messages: [{ role: 'user' as const, content: PROMPT }], max_tokens: 200, temperature: 0.5 }
export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
export const PARENT_ID = '00f067aa0ba902b7'

/** A context whose span is a client's, from its traceparent (sampled, remote) and tracestate: the parent of spans that continue its trace. */
export function remoteParent(): Context {
  return trace.setSpanContext(context.active(), {
    traceId: TRACE_ID,
    spanId: PARENT_ID,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=1'),
  })
}
