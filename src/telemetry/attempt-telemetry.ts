// One engine attempt as telemetry sees it: a CLIENT span `{operation} {model}` with the OpenTelemetry
// GenAI attributes (child of the request's server span, its context injected into the engine request
// as traceparent), and the GenAI metrics (duration, tokens, time to first chunk, time per chunk).
// Response fields are parsed from the engine's answer only while the span is being recorded; token
// counts are read cheaply from the usage object at the end of the answer.
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api'
import type { Engine, Operation } from '../control-plane/engine'
import { ClientGone, type EngineError } from '../engines/engine-client'
import type { StreamOutcome } from '../proxy/stream-relay'
import type { RequestRecord, RequestTelemetry } from './request-telemetry'

/** gen_ai.operation.name per gateway operation (the label of every metric by operation). */
export const OPERATION_NAMES: Record<Operation, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings', messages: 'chat' }

/** Request fields recorded as gen_ai.request.* attributes. */
const REQUEST_PARAMS: Record<string, string> = {
  max_tokens: 'gen_ai.request.max_tokens',
  max_completion_tokens: 'gen_ai.request.max_tokens',
  temperature: 'gen_ai.request.temperature',
  top_p: 'gen_ai.request.top_p',
  top_k: 'gen_ai.request.top_k',
  frequency_penalty: 'gen_ai.request.frequency_penalty',
  presence_penalty: 'gen_ai.request.presence_penalty',
  seed: 'gen_ai.request.seed',
  n: 'gen_ai.request.choice.count',
}

const REQUEST_PARAM_LIST = Object.entries(REQUEST_PARAMS)

const PROMPT_TOKENS = /"(?:prompt_tokens|input_tokens)":\s*(\d+)/
const COMPLETION_TOKENS = /"(?:completion_tokens|output_tokens)":\s*(\d+)/
const FINISH = /"(?:finish_reason|stop_reason)":\s*"([^"]+)"/
const FINISH_ALL = /"finish_reason":\s*"([^"]+)"/g
const RESPONSE_ID = /"id":\s*"([^"]+)"/
const RESPONSE_MODEL = /"model":\s*"([^"]+)"/

export class AttemptTelemetry {
  private readonly span: Span
  private readonly startedAt = performance.now()
  private firstChunkAt?: number
  private lastChunkAt?: number
  private chunks = 0
  /** Read off the answer only while the span is recorded. */
  private finishReasons?: Set<string>
  private readonly labels: readonly string[]
  private readonly operation: string

  constructor(
    private readonly telemetry: RequestTelemetry,
    private readonly record: RequestRecord | undefined,
    engine: Engine,
    op: Operation,
    model: string,
    body: Record<string, unknown>,
    attempt: number,
  ) {
    this.operation = OPERATION_NAMES[op]
    this.labels = [this.operation, model, engine.id]
    // Every sampler here decides a trace once (by its parent or its trace id): under a request span that
    // is not recorded, the attempt would not be either. Its context is the request's, at no cost.
    if (record && !record.span.isRecording()) {
      // The request's own span is already a non-recording span carrying that context.
      this.span = record.span
      return
    }
    // Attributes set one by one after the start: the SDK cleans those given to startSpan twice (for the
    // sampler, which reads none of them here, and for the span), and an object to hold them is one more.
    const span = telemetry.tracing.tracer.startSpan(`${this.operation} ${model}`, { kind: SpanKind.CLIENT }, record?.context)
    this.span = span
    span.setAttribute('gen_ai.operation.name', this.operation)
    span.setAttribute('gen_ai.provider.name', engine.api)
    span.setAttribute('gen_ai.request.model', model)
    span.setAttribute('server.address', engine.host)
    span.setAttribute('server.port', engine.port)
    span.setAttribute('sagellm.engine_id', engine.id)
    span.setAttribute('sagellm.attempt', attempt)
    if (record) span.setAttribute('sagellm.request_id', record.requestId)
    if (typeof body.trace_id === 'string') span.setAttribute('sagellm.trace_id', body.trace_id)
    const sessionId = record?.sessionId ?? (typeof body.session_id === 'string' ? body.session_id : undefined)
    if (sessionId) span.setAttribute('gen_ai.conversation.id', sessionId)
    for (const [field, name] of REQUEST_PARAM_LIST) if (typeof body[field] === 'number') span.setAttribute(name, body[field])
    if (Array.isArray(body.stop)) span.setAttribute('gen_ai.request.stop_sequences', body.stop.filter((s): s is string => typeof s === 'string'))
    if (telemetry.tracing.captureContent && body.messages !== undefined) span.setAttribute('gen_ai.input.messages', JSON.stringify(body.messages))
  }

  /** traceparent (and tracestate) for the engine request, so engine spans join the trace. */
  traceHeaders(headers: Record<string, string>): Record<string, string> {
    // The attempt's own span, or (not recorded) the request's, which carries the context to pass on.
    if (this.record) this.telemetry.tracing.inject(this.span.spanContext(), headers)
    return headers
  }

  /** A whole (non-streamed) answer arrived. */
  answered(text: string): void {
    const elapsed = performance.now() - this.startedAt
    const usageAt = text.lastIndexOf('"usage"')
    const usage = usageAt >= 0 ? text.slice(usageAt, usageAt + 400) : ''
    this.tokens(PROMPT_TOKENS.exec(usage)?.[1], COMPLETION_TOKENS.exec(usage)?.[1])
    if (this.span.isRecording()) {
      // Read off the text, not parsed: a long completion would cost a JSON.parse per request.
      const head = text.slice(0, 300)
      const id = RESPONSE_ID.exec(head)?.[1]
      if (id) this.span.setAttribute('gen_ai.response.id', id)
      const model = RESPONSE_MODEL.exec(head)?.[1]
      if (model) this.span.setAttribute('gen_ai.response.model', model)
      // Each choice's finish_reason sits near the end of the answer, before its usage.
      FINISH_ALL.lastIndex = Math.max(0, usageAt - 600)
      for (let match = FINISH_ALL.exec(text); match; match = FINISH_ALL.exec(text)) (this.finishReasons ??= new Set()).add(match[1]!)
      if (this.telemetry.tracing.captureContent) this.captureOutput(text)
    }
    this.end(elapsed)
  }

  /** The completions, only when content capture is on. */
  private captureOutput(text: string): void {
    try {
      const body = JSON.parse(text) as { choices?: { message?: unknown }[]; content?: unknown }
      const output = body.choices ? body.choices.map((c) => c.message ?? null) : body.content
      if (output !== undefined) this.span.setAttribute('gen_ai.output.messages', JSON.stringify(output))
    } catch {
      // not JSON: nothing to record
    }
  }

  /** One event of a streamed answer passed to the client. */
  chunk(data: string): void {
    const now = performance.now()
    if (this.firstChunkAt === undefined) {
      this.firstChunkAt = now
      this.span.addEvent('gen_ai.first_chunk')
    }
    this.lastChunkAt = now
    this.chunks++
    if (this.span.isRecording()) {
      const finish = FINISH.exec(data)?.[1]
      if (finish) (this.finishReasons ??= new Set()).add(finish)
      if (this.chunks === 1) {
        const id = /"id":\s*"([^"]+)"/.exec(data)?.[1]
        if (id) this.span.setAttribute('gen_ai.response.id', id)
      }
    }
  }

  /** The stream ended, well or not. */
  streamEnded(outcome: StreamOutcome): void {
    const elapsed = performance.now() - this.startedAt
    const m = this.telemetry.metrics
    if (this.firstChunkAt !== undefined) {
      const ttfc = this.firstChunkAt - this.startedAt
      m.timeToFirstChunk.observe(this.labels, ttfc / 1000)
      this.span.setAttribute('sagellm.time_to_first_chunk_ms', ttfc)
      if (this.record) this.record.ttftMs = ttfc
      if (this.chunks > 1 && this.lastChunkAt !== undefined) m.timePerOutputChunk.observe(this.labels, (this.lastChunkAt - this.firstChunkAt) / (this.chunks - 1) / 1000)
    }
    this.tokens(outcome.usage?.prompt_tokens, outcome.usage?.completion_tokens)
    if (!outcome.ok) this.fail(outcome.error instanceof ClientGone ? 'client_closed_request' : (outcome.error as EngineError).kind ?? 'error', outcome.error.message)
    this.end(elapsed)
  }

  /** The attempt failed before an answer: the error type is the failure kind or the HTTP status. */
  failed(error: EngineError): void {
    this.fail(error.kind === 'http' && error.status ? String(error.status) : error.kind, error.message)
    this.end(performance.now() - this.startedAt)
  }

  /** The client went away before an answer. */
  abandoned(): void {
    this.fail('client_closed_request', 'the client went away')
    this.end(performance.now() - this.startedAt)
  }

  private errorType?: string
  private ended = false

  private fail(type: string, message: string): void {
    this.errorType = type
    this.span.setAttribute('error.type', type)
    this.span.setStatus({ code: SpanStatusCode.ERROR, message })
  }

  private tokens(input: number | string | undefined, output: number | string | undefined): void {
    const m = this.telemetry.metrics
    const inTokens = input === undefined ? undefined : Number(input)
    const outTokens = output === undefined ? undefined : Number(output)
    if (inTokens !== undefined) {
      this.span.setAttribute('gen_ai.usage.input_tokens', inTokens)
      m.tokenUsage.observe(this.labels, inTokens, 'input')
      if (this.record) this.record.inputTokens = inTokens
    }
    if (outTokens !== undefined) {
      this.span.setAttribute('gen_ai.usage.output_tokens', outTokens)
      m.tokenUsage.observe(this.labels, outTokens, 'output')
      m.outputTokens.add(outTokens)
      if (this.record) this.record.outputTokens = outTokens
    }
  }

  private end(elapsedMs: number): void {
    if (this.ended) return
    this.ended = true
    if (this.finishReasons) this.span.setAttribute('gen_ai.response.finish_reasons', [...this.finishReasons])
    this.telemetry.metrics.operationDuration.observe(this.labels, elapsedMs / 1000, this.errorType ?? '')
    if (this.record) this.record.engineMs += elapsedMs
    this.span.end()
  }
}
