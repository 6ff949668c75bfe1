// One record per HTTP request: the server span (continuing the client's W3C trace context), what the
// dispatcher learned (model, engine, tokens, retries, time to first chunk, time spent on engines), and,
// when the answer is over (a stream: when it ends), the request's metrics and its one JSON log line.
import { INVALID_SPAN_CONTEXT, INVALID_TRACEID, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api'
import { Elysia } from 'elysia'
import type { Operation } from '../control-plane/engine'
import { OPERATION_NAMES } from './attempt-telemetry'
import type { Logger } from './logger'
import type { GatewayMetrics } from './metrics'
import { contextWith, type Tracing } from './tracing'
import { pathOf } from '../api/request-path'

/** The server span of a request that is neither traced here nor by its client. */
const UNTRACED_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/** Routes scraped or polled all the time: their log lines are at debug level. */
const QUIET_ROUTES = new Set(['/health', '/metrics'])

export class RequestRecord {
  readonly startedAt = performance.now()
  status = 200
  code: string | null = null
  route = 'unmatched'
  operation?: Operation
  model?: string
  engineId?: string
  sessionId?: string
  /** The principal's id (api key id, `static:…`, `admin`, `anonymous`) once an inference call is admitted. */
  keyId?: string
  /** Run once when the request is over (a stream: when it ends), before metrics and the log line. */
  readonly onEnd: ((record: RequestRecord) => void)[] = []
  retries = 0
  ttftMs?: number
  inputTokens?: number
  outputTokens?: number
  /** Time spent waiting on engines (first byte, whole answers, streams). */
  engineMs = 0
  /** The answer is a stream: the record ends when the stream does. */
  streaming = false
  private responded = false
  private done = false

  constructor(
    readonly requestId: string,
    readonly method: string,
    readonly span: Span,
    /** The server span's context: the parent of every engine attempt span. */
    readonly context: Context,
    private readonly sink: (record: RequestRecord) => void,
  ) {}

  /** The answer is an error (the error handler's status and code win over the route's). */
  failed(status: number, code: string | null): void {
    this.status = status
    this.code = code ?? String(status)
  }

  /** The response went out (its head, for a stream). */
  responseSent(): void {
    this.responded = true
    if (!this.streaming) this.finish()
  }

  /** The answer is a stream (unless it already ended: a short stream can end before it is handed out). */
  streamStarted(): void {
    if (!this.streamDone) this.streaming = true
  }

  /** A streamed answer ended. */
  streamEnded(): void {
    this.streamDone = true
    this.streaming = false
    if (this.responded) this.finish()
  }

  private streamDone = false

  private finish(): void {
    if (this.done) return
    this.done = true
    this.sink(this)
  }
}

export class RequestTelemetry {
  private readonly records = new WeakMap<Request, RequestRecord>()

  constructor(
    readonly tracing: Tracing,
    readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    /** Told of every request once it is over (usage accounting). */
    private readonly onRequestEnd?: (record: RequestRecord) => void,
  ) {}

  begin(request: Request, requestId: string): RequestRecord {
    let span = UNTRACED_SPAN
    let context = ROOT_CONTEXT
    // With tracing off and no trace context from the client there is nothing to record or carry on:
    // every such request shares one invalid no-op span (its methods do nothing, and inject skips it).
    if (this.tracing.enabled || request.headers.has('traceparent')) {
      const parent = this.tracing.extract(request.headers)
      span = this.tracing.tracer.startSpan(request.method, { kind: SpanKind.SERVER }, parent)
      // Attributes only for a span that is recorded (with tracing off it never is).
      if (span.isRecording()) {
        span.setAttribute('http.request.method', request.method)
        span.setAttribute('url.path', pathOf(request))
        span.setAttribute('sagellm.request_id', requestId)
      }
      context = contextWith(parent, span)
    }
    const record = new RequestRecord(requestId, request.method, span, context, this.finished)
    this.records.set(request, record)
    return record
  }

  recordOf(request: Request): RequestRecord | undefined {
    return this.records.get(request)
  }

  /**
   * The answer to `request` is handed out (by its route's handler or by the error handler): the record
   * takes its route and status and ends (a stream's, when the stream does).
   */
  answered(request: Request, route: string | undefined, status: unknown): void {
    const record = this.records.get(request)
    if (!record) return
    record.route = route || 'unmatched'
    // The error handler's answer is authoritative; set.status covers the handlers' own statuses.
    if (record.code === null && typeof status === 'number') record.status = status
    record.responseSent()
  }

  /** Records whose requests are over, waiting for the end of this event-loop turn. */
  private ended: RequestRecord[] = []

  /**
   * The metrics, span end and log line of finished requests run after the turn that finished them, off
   * the path of the answer, all of a turn's at once (one callback, not one per request).
   */
  private readonly finished = (record: RequestRecord): void => {
    if (this.ended.push(record) === 1) setImmediate(this.endAll)
  }

  private readonly endAll = (): void => {
    const records = this.ended
    this.ended = []
    for (const record of records) {
      try {
        this.end(record)
      } catch (e) {
        this.log.error('request telemetry failed', { request_id: record.requestId, error: String(e) })
      }
    }
  }

  private end(r: RequestRecord): void {
    const durationMs = performance.now() - r.startedAt
    for (const callback of r.onEnd) callback(r)
    this.onRequestEnd?.(r)
    const { span } = r
    span.updateName(`${r.method} ${r.route}`)
    span.setAttribute('http.route', r.route)
    span.setAttribute('http.response.status_code', r.status)
    if (r.code) span.setAttribute('error.type', r.code)
    if (r.sessionId) span.setAttribute('gen_ai.conversation.id', r.sessionId)
    if (r.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: r.code ?? String(r.status) })
    span.end()
    const m = this.metrics
    m.httpRequests.inc([r.route, r.method, String(r.status), r.code ?? ''])
    if (r.operation) {
      m.latency.add(durationMs)
      m.overhead.observe([OPERATION_NAMES[r.operation]], Math.max(0, durationMs - r.engineMs) / 1000)
    }
    const quiet = QUIET_ROUTES.has(r.route)
    // The line is built only when its level is written.
    if (!this.log.enabled(quiet ? 'debug' : 'info')) return
    const spanContext = span.spanContext()
    // Valid ids by construction (generated, or validated on extraction): only the untraced span's are not.
    const traced = spanContext.traceId !== INVALID_TRACEID
    const line = {
      request_id: r.requestId,
      trace_id: traced ? spanContext.traceId : undefined,
      // Without tracing the span is the client's own: its id would name no span of ours.
      span_id: traced && this.tracing.enabled ? spanContext.spanId : undefined,
      method: r.method,
      route: r.route,
      status: r.status,
      error_code: r.code ?? undefined,
      model: r.model,
      engine_id: r.engineId,
      session_id: r.sessionId,
      duration_ms: round(durationMs),
      ttft_ms: r.ttftMs === undefined ? undefined : round(r.ttftMs),
      input_tokens: r.inputTokens,
      output_tokens: r.outputTokens,
      retries: r.operation ? r.retries : undefined,
      key_id: r.keyId,
    }
    if (quiet) this.log.debug('request', line)
    else this.log.info('request', line)
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100

/** Starts the record when a request arrives, ends it (or hands it to the stream) when the answer is handed out. */
export function requestTelemetry(telemetry: RequestTelemetry) {
  return new Elysia({ name: 'request-telemetry' })
    .onRequest(({ request, set }) => {
      telemetry.begin(request, String(set.headers['x-request-id']))
    })
    // After the handler, not after the response: Elysia runs after-response hooks in a setImmediate of
    // their own per request (about 3 µs each); the record defers its end work itself, once per turn.
    // Errors are answered by the error handler, which does the same.
    .onAfterHandle(({ request, route, set }) => {
      telemetry.answered(request, route, set.status)
    })
    .as('global')
}
