// Sends one client request to an engine and shapes the engine's answer for the client. Engines that
// cannot be reached, answer 5xx, or time out before anything reached the client are left for the next
// engine serving the model; an engine's 4xx goes back to the client with the engine's own message.
import { EnginePicker } from '../control-plane/pick-engine'
import type { Engine, EngineRegistry, Operation } from '../control-plane/engine-registry'
import { ClientGone, describeFailure, EngineError, engineMessage, postToEngine } from '../engines/engine-client'
import { ApiError, deadlineExceeded, enginesFailed, noEngine } from '../errors'
import type { Logger } from '../telemetry/logger'
import { Deadline } from './deadline'
import type { InflightTracker } from './inflight'
import { openStreamRelay } from './stream-relay'
import { toUpstreamBody } from './upstream-body'

const ENGINE_PATHS: Record<Operation, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
}

const JSON_HEADERS = { 'content-type': 'application/json' }
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }

export interface DispatchRequest {
  readonly operation: Operation
  /** The validated client body; fields the gateway does not read go to the engine untouched. */
  readonly body: Record<string, unknown> & { model: string; stream?: unknown }
  readonly requestId: string
  /** Aborted when the client disconnects. */
  readonly signal: AbortSignal
}

export interface DispatcherDeps {
  readonly registry: EngineRegistry
  readonly requestTimeoutMs: number
  readonly inflight: InflightTracker
  readonly log: Logger
}

export class Dispatcher {
  private readonly picker = new EnginePicker()

  constructor(private readonly deps: DispatcherDeps) {}

  async dispatch(request: DispatchRequest): Promise<Response> {
    const { registry, inflight } = this.deps
    const model = request.body.model
    const stream = request.operation !== 'embeddings' && request.body.stream === true
    const upstream = toUpstreamBody(request.body, stream)
    let candidates = await registry.resolve(model, request.operation)
    const tried = new Set<Engine>()
    const failures: { kind: EngineError['kind']; text: string }[] = []
    const headers = { 'x-request-id': request.requestId }
    inflight.begin()
    let handedOver = false
    try {
      for (;;) {
        const engine = this.picker.pickEngine(candidates, request.body, tried)
        if (!engine) break
        tried.add(engine)
        engine.activeRequests++
        const deadline = new Deadline(this.deps.requestTimeoutMs)
        const call = { signal: AbortSignal.any([request.signal, deadline.signal, inflight.shutdownSignal]), clientSignal: request.signal, headers }
        let streaming = false
        try {
          const response = await postToEngine(engine, ENGINE_PATHS[request.operation], upstream.text, call)
          if (!stream) {
            const text = await response.text().catch((e) => Promise.reject(describeFailure(e, call)))
            registry.recordSuccess(engine)
            return new Response(text, { status: 200, headers: JSON_HEADERS })
          }
          if (!response.headers.get('content-type')?.includes('text/event-stream')) {
            await response.body?.cancel().catch(() => {})
            throw new EngineError('protocol', `answered a stream request with ${response.headers.get('content-type') ?? 'no content type'} instead of text/event-stream`)
          }
          const body = await openStreamRelay(response, {
            engineId: engine.id,
            clientWantsUsage: upstream.clientWantsUsage,
            deadline,
            ...call,
            onEnd: (outcome) => {
              engine.activeRequests--
              inflight.end()
              if (outcome.ok) registry.recordSuccess(engine)
              else if (outcome.error instanceof EngineError && outcome.error.retryable) registry.recordFailure(engine, outcome.error)
            },
          })
          streaming = true
          handedOver = true
          return new Response(body, { status: 200, headers: SSE_HEADERS })
        } catch (e) {
          const error = describeFailure(e, call)
          if (error instanceof ClientGone) throw error
          const engineError = error as EngineError
          if (!engineError.retryable) throw engineRejected(engineError)
          registry.recordFailure(engine, engineError)
          failures.push({ kind: engineError.kind, text: `${engine.id}: ${engineError.message}` })
          this.deps.log.warning('engine attempt failed', { request_id: request.requestId, engine_id: engine.id, model, error: engineError.message })
        } finally {
          if (!streaming) {
            engine.activeRequests--
            deadline.clear()
          }
        }
        candidates = registry.candidates(model, request.operation)
      }
    } finally {
      if (!handedOver) inflight.end()
    }
    if (failures.length === 0) throw noEngine(model, 'every engine serving it became unavailable')
    const detail = failures.map((f) => f.text).join('; ')
    if (failures.every((f) => f.kind === 'timeout')) throw deadlineExceeded(model, detail)
    throw enginesFailed(model, detail)
  }
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
