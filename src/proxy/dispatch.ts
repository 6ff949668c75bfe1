// Sends one client request to an engine and shapes the engine's answer for the client. An attempt
// that fails before anything reached the client (connection refused, 5xx, timeout before the first
// byte) is retried, up to retries.max times: at once on an engine not tried yet, and with exponential
// backoff when every engine serving the model has been tried. An engine's 4xx goes back to the
// client with the engine's own message and is never retried.
import type { Engine, Operation } from '../control-plane/engine'
import type { EngineRegistry } from '../control-plane/engine-registry'
import { promptText, type RouteHints } from '../control-plane/route-hints'
import type { RouteRequest, Router } from '../control-plane/router'
import { ClientGone, describeFailure, EngineError, engineMessage, postToEngine } from '../engines/engine-client'
import { ApiError, deadlineExceeded, enginesFailed, ERROR_CODES, noEngine } from '../errors'
import type { SessionScope, SessionService } from '../sessions/session-service'
import type { SessionTurn } from '../sessions/session-turn'
import { AttemptTelemetry } from '../telemetry/attempt-telemetry'
import type { Logger } from '../telemetry/logger'
import type { RequestRecord, RequestTelemetry } from '../telemetry/request-telemetry'
import type { InflightTracker } from './inflight'
import { ANTHROPIC_SSE, OPENAI_SSE } from './sse-dialects'
import { openStreamRelay, type ClientEncoder } from './stream-relay'
import { toUpstreamBody } from './upstream-body'

const ENGINE_PATHS: Record<Operation, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: '/messages',
}

export interface DispatchRequest {
  readonly operation: Operation
  /** The validated client body; fields the gateway does not read go to the engine untouched. */
  readonly body: Record<string, unknown> & { model: string; stream?: unknown }
  /** The client's JSON text of `body`, sent as it is when nothing has to change. */
  readonly bodyText?: string
  readonly requestId: string
  readonly hints: RouteHints
  /** Aborted when the client disconnects. */
  readonly signal: AbortSignal
  /** The request's telemetry record (server span, log line), when it came through HTTP. */
  readonly record?: RequestRecord
  /** Whose sessions a chat turn may use (default: every session, as on an open gateway). */
  readonly sessionScope?: SessionScope
  /** A streamed chat answer goes to the client through it (an Anthropic client's events in place of OpenAI's); it reads OpenAI events, so it is for operation chat only. */
  readonly encoder?: ClientEncoder
}

export interface RetryPolicy {
  readonly max: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
}

export interface DispatcherDeps {
  readonly registry: EngineRegistry
  readonly router: Router
  readonly requestTimeoutMs: number
  readonly retries: RetryPolicy
  readonly inflight: InflightTracker
  readonly log: Logger
  /** Chat turns with a session id go through it (history in, turn stored). */
  readonly sessions?: SessionService
  readonly telemetry: RequestTelemetry
}

interface Failure {
  readonly kind: EngineError['kind']
  readonly text: string
}

export class Dispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  /** The client's Response (a plain request goes straight to routing, without an async frame of its own). */
  dispatch(request: DispatchRequest): Promise<Response> {
    const { sessionId } = request.hints
    this.deps.telemetry.metrics.requests.inc()
    if (request.record) {
      request.record.operation = request.operation
      request.record.model = request.body.model
      request.record.sessionId = sessionId
    }
    if (request.operation !== 'chat' || !sessionId || !this.deps.sessions) return this.route(request)
    return this.sessionTurn(request, sessionId)
  }

  private async sessionTurn(request: DispatchRequest, sessionId: string): Promise<Response> {
    const turn = await this.deps.sessions!.beginTurn(
      sessionId,
      request.body.messages as Record<string, unknown>[],
      request.signal,
      request.hints.deadlineAt,
      request.sessionScope,
      request.body.continue_final_message === true ? { echoed: request.body.echo === true } : undefined,
    )
    try {
      const body = { ...request.body, messages: turn.engineMessages }
      // Locality keys on what the engine will see: the stored history first.
      let prefix: string | undefined
      const hints = { ...request.hints, prefix: (limit: number) => (prefix ??= promptText(body, limit)) }
      // The engine gets the stored history: a new body, and no client text to send instead of it.
      return await this.route({ ...request, body, bodyText: undefined, hints }, turn)
    } catch (e) {
      turn.abandon()
      throw e
    }
  }

  private async route(request: DispatchRequest, turn?: SessionTurn): Promise<Response> {
    const { router, retries, inflight } = this.deps
    const model = request.body.model
    const stream = request.operation !== 'embeddings' && request.body.stream === true
    const route: RouteRequest = { ...request.hints, model, operation: request.operation, signal: request.signal }
    // No retry or failover starts past the client's deadline; without one, retries.max bounds them.
    const retryUntil = request.hints.deadlineAt ?? Infinity
    const tried = new Set<Engine>()
    const failures: Failure[] = []
    inflight.begin()
    let handedOver = false
    try {
      let backoffs = 0
      for (let attempt = 0; attempt <= retries.max; attempt++) {
        if (attempt > 0 && Date.now() >= retryUntil) break
        let engine = await router.acquire(route, tried, attempt > 0)
        if (!engine && tried.size > 0) {
          // Every engine serving the model failed once: wait, then give them another chance.
          const wait = Math.min(retries.backoffBaseMs * 2 ** backoffs++, retries.backoffMaxMs)
          if (Date.now() + wait >= retryUntil || !router.hasCandidates(route)) break
          await sleepUnlessAborted(wait, request.signal)
          tried.clear()
          engine = await router.acquire(route, tried, true)
        }
        if (!engine) break
        tried.add(engine)
        if (attempt > 0) this.deps.telemetry.metrics.retries.inc([model])
        if (request.record) request.record.retries = attempt
        const result = await this.attempt(engine, request, route, stream, turn, failures)
        if (result instanceof Response) {
          // A stream's relay ends the in-flight count when the stream ends.
          handedOver = stream
          return result
        }
        failures.push(result)
      }
    } finally {
      if (!handedOver) inflight.end()
    }
    if (failures.length === 0) throw noEngine(model, 'every engine serving it became unavailable')
    this.deps.telemetry.metrics.retriesExhausted.inc([model])
    const detail = failures.map((f) => f.text).join('; ')
    if (failures.every((f) => f.kind === 'timeout')) throw deadlineExceeded(model, detail)
    throw enginesFailed(model, detail)
  }

  /** One attempt on one engine whose slot is held: the client's Response, or why the engine failed. */
  private async attempt(
    engine: Engine,
    request: DispatchRequest,
    route: RouteRequest,
    stream: boolean,
    turn: SessionTurn | undefined,
    earlier: readonly Failure[],
  ): Promise<Response | Failure> {
    const { registry, router, inflight } = this.deps
    // Anthropic-API engines get the body as the client sent it; OpenAI streams are asked for usage.
    const upstream = toUpstreamBody(request.body, stream && request.operation !== 'messages', request.bodyText)
    // The first byte is awaited up to the request timeout, or the client's deadline if that comes first.
    const untilDeadline = request.hints.deadlineAt === undefined ? Infinity : Math.max(1, request.hints.deadlineAt - Date.now())
    const deadline = inflight.deadline(Math.min(this.deps.requestTimeoutMs, untilDeadline), request.signal)
    const observed = new AttemptTelemetry(this.deps.telemetry, request.record, engine, request.operation, route.model, request.body, earlier.length + 1)
    if (request.record) request.record.engineId = engine.id
    const call = {
      signal: deadline,
      clientSignal: request.signal,
      headers: observed.traceHeaders({ 'x-request-id': request.requestId }),
      deferrable: !stream,
    }
    let streaming = false
    let connected = false
    try {
      const response = await postToEngine(engine, ENGINE_PATHS[request.operation], upstream.text, call)
      connected = true
      if (!stream) {
        // A failed read is described by the catch below, as a failed call is.
        const text = await response.text()
        observed.answered(text)
        registry.recordSuccess(engine)
        turn?.completeFromBody(text, engine.id, request.requestId)
        return new Response(text, { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': request.requestId } })
      }
      if (!response.headers.get('content-type')?.includes('text/event-stream')) {
        await response.body?.cancel().catch(() => {})
        throw new EngineError('protocol', `answered a stream request with ${response.headers.get('content-type') ?? 'no content type'} instead of text/event-stream`)
      }
      const body = await openStreamRelay(response, {
        engineId: engine.id,
        clientWantsUsage: upstream.clientWantsUsage,
        dialect: request.operation === 'messages' ? ANTHROPIC_SSE : OPENAI_SSE,
        encoder: request.encoder,
        deadline,
        clientSignal: request.signal,
        onData: (data) => {
          observed.chunk(data)
          turn?.observe(data)
        },
        onEnd: (outcome) => {
          observed.streamEnded(outcome)
          let problem: Error | undefined
          try {
            turn?.endStream(outcome, engine.id, request.requestId)
          } catch (e) {
            problem = e as Error
            this.deps.log.error('session turn not stored', { request_id: request.requestId, session_id: turn?.sessionId, error: problem.message })
          }
          if (outcome.ok) registry.recordSuccess(engine)
          else if (outcome.error instanceof EngineError && outcome.error.retryable) registry.recordRequestFailure(engine, outcome.error)
          else engine.breaker.onAbandon()
          router.release(engine)
          inflight.end()
          request.record?.streamEnded()
          return problem
        },
      })
      request.record?.streamStarted()
      streaming = true
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': request.requestId } })
    } catch (e) {
      // The gateway's own failure (a session turn that could not be stored), not the engine's.
      if (e instanceof ApiError) {
        observed.failed(new EngineError('protocol', e.message))
        throw e
      }
      const error = describeFailure(e, call)
      if (error instanceof ClientGone) {
        engine.breaker.onAbandon()
        observed.abandoned()
        throw error
      }
      const engineError = error as EngineError
      observed.failed(engineError)
      if (inflight.aborted) throw shuttingDown()
      if (!engineError.retryable) {
        // The engine answered: it is alive, the request was at fault.
        registry.recordSuccess(engine)
        throw engineRejected(engineError)
      }
      // A request that draws 5xx from one engine after another is likely at fault itself: only its
      // first 5xx counts against an engine, so one client cannot take a whole model out.
      const repeated5xx = engineError.kind === 'http' && earlier.some((f) => f.kind === 'http')
      if (!repeated5xx) registry.recordRequestFailure(engine, engineError, { unreachable: engineError.kind === 'connect' && !connected })
      this.deps.log.warning('engine attempt failed', { request_id: request.requestId, engine_id: engine.id, model: route.model, error: engineError.message })
      return { kind: engineError.kind, text: `${engine.id}: ${engineError.message}` }
    } finally {
      if (!streaming) {
        deadline.clear()
        router.release(engine)
      }
    }
  }
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'The gateway is shutting down and could not finish this request in its drain timeout; retry', 'server_error', ERROR_CODES.unavailable)
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new ClientGone())
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(new ClientGone())
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** An engine's 4xx, as the client should see it: the engine's status and message, OpenAI's envelope. */
function engineRejected(error: EngineError): ApiError {
  const status = error.status ?? 502
  let type = 'invalid_request_error'
  let param: string | null = null
  let code: string | null = null
  try {
    const body = JSON.parse(error.body ?? '') as { error?: Record<string, unknown>; type?: unknown; param?: unknown; code?: unknown }
    const fields = typeof body.error === 'object' && body.error ? body.error : body
    if (typeof fields.type === 'string' && fields.type) type = fields.type
    if (typeof fields.param === 'string') param = fields.param
    if (typeof fields.code === 'string') code = fields.code
  } catch {
    // a non-JSON error body: its text is the message
  }
  return new ApiError(status, engineMessage(error.body ?? '') || `engine answered HTTP ${status}`, type, code, param)
}
