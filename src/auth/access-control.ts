// The gateway's door: which routes need a key, who a request's credential belongs to, whether that
// principal may use a model, admission against its rate limits, and its usage once the answer is over.
// No Elysia here: api/auth.ts applies it to requests.
import type { Operation } from '../control-plane/engine'
import { ApiError, ERROR_CODES } from '../errors'
import type { SessionScope } from '../sessions/session-service'
import type { RequestRecord } from '../telemetry/request-telemetry'
import { ADMIN, allowsModel, OPEN, type Principal } from './api-keys'
import { invalidApiKey, type KeyService } from './key-service'
import { RateLimiter, type Admission } from './rate-limiter'
import type { UsageRecorder } from './usage'

export interface AccessOptions {
  /** /metrics without a key while keys are required. */
  readonly metricsPublic: boolean
  /** /swagger without a key while keys are required. */
  readonly docsPublic: boolean
}

/** The usage row of requests whose model is unknown or was never read. */
export const UNKNOWN_MODEL = '(unknown)'

/** Inference routes: a request on one that passes authentication counts in its key's usage. */
const INFERENCE_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/messages'])

const MISSING_KEY = 'Missing API key: send it as Authorization: Bearer <key> or as x-api-key: <key>'

export class AccessControl {
  constructor(
    readonly keys: KeyService,
    readonly usage: UsageRecorder,
    private readonly options: AccessOptions,
    private readonly limiter = new RateLimiter(),
  ) {}

  /** Whether `path` answers without a key even when keys are required. */
  isPublic(path: string): boolean {
    if (path === '/health' || path === '/') return true
    if (path === '/metrics') return this.options.metricsPublic
    if (path === '/swagger' || path.startsWith('/swagger/')) return this.options.docsPublic
    return false
  }

  /**
   * The principal behind a request's credentials (Authorization: Bearer, x-api-key; the first valid
   * one wins). Keys not required: the admin key still identifies the admin, anything else is OPEN
   * (the official SDKs always send some key). Keys required: a missing or invalid one is a 401.
   */
  principalOf(headers: Headers, path: string): Principal {
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.get('authorization') ?? '')?.[1]?.trim()
    const apiKey = headers.get('x-api-key')?.trim()
    let rejection: ApiError | undefined
    for (const secret of [bearer, apiKey]) {
      if (!secret) continue
      const result = this.keys.authenticate(secret)
      if (!(result instanceof ApiError)) return this.keys.required || result.kind === 'admin' ? result : OPEN
      rejection ??= result
    }
    if (!this.keys.required || this.isPublic(path)) return OPEN
    throw rejection ?? invalidApiKey(MISSING_KEY)
  }

  /** Marks an authenticated inference request for usage counting, whatever its answer turns out to be. */
  countsForUsage(method: string, path: string): boolean {
    return method === 'POST' && INFERENCE_PATHS.has(path)
  }

  /** Whether the principal may call `model`: 403 model_not_allowed if not. */
  checkModel(principal: Principal, model: string): void {
    if (principal.kind === 'virtual' && !allowsModel(principal.key.models, model))
      throw new ApiError(403, `The API key '${principal.key.name}' may not use the model '${model}'`, 'permission_error', ERROR_CODES.modelNotAllowed, 'model')
  }

  /** Models the principal may see in /v1/models. */
  modelFilter(principal: Principal): (model: string) => boolean {
    return principal.kind === 'virtual' && principal.key.models ? (model) => allowsModel(principal.key.models, model) : () => true
  }

  /**
   * Admits an inference request: model check, then the key's limits. The record learns the key and
   * model (usage is counted when it ends) and settles the admission then.
   */
  admit(principal: Principal, operation: Operation, body: Record<string, unknown> & { model: string }, record: RequestRecord | undefined): Admission | undefined {
    if (record) {
      record.keyId = principal.id
      record.model = body.model
    }
    this.checkModel(principal, body.model)
    if (principal.kind !== 'virtual') return undefined
    const { rpm, tpm, maxConcurrency } = principal.key
    if (rpm === null && tpm === null && maxConcurrency === null) return undefined
    const admission = this.limiter.admit(principal.id, { rpm, tpm, maxConcurrency }, tpm === null ? 0 : tokensReserved(operation, body))
    record?.onEnd.push((r) => admission.settle(r.status >= 400 && r.inputTokens === undefined ? 0 : knownTokens(r)))
    return admission
  }

  /** Counts a finished request against its key's usage (written at once when flushing has stopped). */
  requestEnded(r: RequestRecord): void {
    if (r.keyId === undefined) return
    // A model no engine serves (or none named: the body was refused) is counted under one name, so
    // made-up names cannot grow the usage table.
    const model = r.model === undefined || r.code === ERROR_CODES.modelNotFound ? UNKNOWN_MODEL : r.model
    this.usage.record({ keyId: r.keyId, model, engineId: r.engineId ?? '', failed: r.status >= 400, inputTokens: r.inputTokens ?? 0, outputTokens: r.outputTokens ?? 0 })
    if (this.stopped) this.flushLate()
  }

  private stopped = false

  private flushLate(): void {
    try {
      this.flush()
    } catch {
      // The database is already closed: nothing can be written any more.
    }
  }

  private flusher: ReturnType<typeof setInterval> | undefined

  /** Writes counted usage and keys' last-used times every `intervalMs` (until stop). */
  startFlushing(intervalMs: number, onError: (error: Error) => void): void {
    if (this.flusher) return
    this.flusher = setInterval(() => {
      try {
        this.flush()
      } catch (e) {
        onError(e as Error)
      }
    }, intervalMs)
    this.flusher.unref?.()
  }

  /** Writes what is pending now. */
  flush(): void {
    this.usage.flush()
    this.keys.flush()
  }

  /** Stops the periodic flush and writes what is pending (at shutdown, before the database closes). */
  stop(): void {
    clearInterval(this.flusher)
    this.flusher = undefined
    this.stopped = true
    this.flush()
  }

  /** A key was deleted: forget its counters. */
  forget(keyId: string): void {
    this.limiter.forget(keyId)
  }

  /** The open gateway and the admin see every session; a key sees the sessions it created. */
  sessionScope(principal: Principal): SessionScope {
    if (principal.kind === 'open') return { owner: null, all: true }
    if (principal.kind === 'admin') return { owner: ADMIN.id, all: true }
    return { owner: principal.id, all: false }
  }
}

function knownTokens(r: RequestRecord): number | undefined {
  return r.inputTokens === undefined && r.outputTokens === undefined ? undefined : (r.inputTokens ?? 0) + (r.outputTokens ?? 0)
}

/** What a request may consume: its prompt's characters / 4, plus the most it asks to generate. */
export function tokensReserved(operation: Operation, body: Record<string, unknown>): number {
  const promptChars = textLength(operation === 'completions' ? body.prompt : operation === 'embeddings' ? body.input : [body.system, body.messages])
  const limit = [body.max_completion_tokens, body.max_tokens].find((v) => typeof v === 'number' && Number.isFinite(v) && v > 0) as number | undefined
  return Math.ceil(promptChars / 4) + (operation === 'embeddings' ? 0 : Math.ceil(limit ?? 0))
}

/** Media is priced by the engine, not by its encoded length: its fields are left out of the estimate. */
const MEDIA_FIELDS = new Set(['image_url', 'input_audio', 'file', 'source'])

/** Characters of text in a prompt value: its strings, token ids (as 4 characters), nested parts. */
function textLength(value: unknown): number {
  let total = 0
  const stack: unknown[] = [value]
  while (stack.length) {
    const v = stack.pop()
    if (typeof v === 'string') total += v.length
    else if (typeof v === 'number') total += 4
    else if (Array.isArray(v)) for (const item of v) stack.push(item)
    else if (v && typeof v === 'object') for (const [field, item] of Object.entries(v)) if (!MEDIA_FIELDS.has(field)) stack.push(item)
  }
  return total
}
