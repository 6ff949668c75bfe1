// One engine the gateway fronts: its fixed identity (URL, kind, key), what the operator may change
// while it runs (weight, max_concurrency, metadata), and its live state (health state, models, load,
// circuit breaker). The registry owns the state changes; this class only holds and describes them.
import type { EngineEndpoint, EngineFetch } from '../engines/engine-client'
import { CircuitBreaker } from './circuit-breaker'
import type { Routable } from './routing'

/** The original control plane's states. */
export type EngineState = 'STARTING' | 'READY' | 'DRAINING' | 'STOPPED' | 'ERROR'

/** What a request needs from an engine: an OpenAI operation, or `messages` from an engine speaking the Anthropic API. */
export type Operation = 'chat' | 'completions' | 'embeddings' | 'messages'

/** Where an engine came from: config engines come back from the config, api engines from the database. */
export type EngineSource = 'config' | 'api' | 'mock'

/** One entry of an engine's model list, kept as the engine sent it (vLLM adds max_model_len, root…). */
export interface ModelCard {
  id: string
  object: 'model'
  created: number
  owned_by: string
  [field: string]: unknown
}

export interface EngineSpec {
  readonly id: string
  readonly baseUrl: string
  readonly kind: string
  readonly fetch: EngineFetch
  readonly apiKey?: string
  readonly modelId?: string
  readonly weight?: number
  readonly maxConcurrency?: number
  readonly api?: 'openai' | 'anthropic'
  readonly source?: EngineSource
  readonly metadata?: Record<string, unknown>
  readonly createdAt?: Date
}

export interface BreakerSettings {
  readonly failureThreshold: number
  readonly cooldownMs: number
}

export class Engine implements EngineEndpoint, Routable {
  state: EngineState = 'STARTING'
  models = new Map<string, ModelCard>()
  consecutiveFailures = 0
  activeRequests = 0
  lastHeartbeat: Date | null = null
  lastError: string | null = null
  weight: number
  maxConcurrency: number | undefined
  metadata: Record<string, unknown>
  readonly createdAt: Date
  readonly breaker: CircuitBreaker
  readonly host: string
  readonly port: number

  constructor(
    private readonly spec: EngineSpec,
    breaker: BreakerSettings,
  ) {
    this.weight = spec.weight ?? 1
    this.maxConcurrency = spec.maxConcurrency
    this.metadata = { ...spec.metadata }
    this.createdAt = spec.createdAt ?? new Date()
    this.breaker = new CircuitBreaker(breaker.failureThreshold, breaker.cooldownMs)
    const url = new URL(spec.baseUrl)
    this.host = url.hostname
    this.port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
  }

  get id() { return this.spec.id }
  get baseUrl() { return this.spec.baseUrl }
  get kind() { return this.spec.kind }
  get fetch() { return this.spec.fetch }
  get apiKey() { return this.spec.apiKey }
  get modelId() { return this.spec.modelId }
  get api() { return this.spec.api ?? 'openai' }
  get source(): EngineSource { return this.spec.source ?? 'config' }

  /** scheme://host:port, the original's `endpoint`. */
  get endpoint(): string {
    return new URL(this.baseUrl).origin
  }

  /** Where its liveness is asked: /health beside the API prefix (http://h:8000/v1 → http://h:8000/health). */
  get healthUrl(): string {
    return `${this.baseUrl.replace(/\/v1$/, '')}/health`
  }

  /** Embedding engines serve only embeddings; engines speaking the Anthropic API serve only `messages`. */
  servesOperation(op: Operation): boolean {
    if ((op === 'messages') !== (this.api === 'anthropic')) return false
    return this.kind !== 'embedding' || op === 'embeddings'
  }

  /** What it is, in words for an error message: "embedding engine", "anthropic-API engine". */
  get role(): string {
    return this.api !== 'openai' ? `${this.api}-API engine` : `${this.kind} engine`
  }

  hasCapacity(): boolean {
    return this.maxConcurrency === undefined || this.activeRequests < this.maxConcurrency
  }

  /** The engine as /health and the management API show it (never its API key). */
  describe() {
    return {
      engine_id: this.id,
      model_id: this.modelId ?? [...this.models.keys()][0] ?? null,
      host: this.host,
      port: this.port,
      endpoint: this.endpoint,
      base_url: this.baseUrl,
      url: this.baseUrl,
      state: this.state,
      is_healthy: this.state === 'READY',
      engine_kind: this.kind,
      api: this.api,
      source: this.source,
      models: [...this.models.keys()],
      weight: this.weight,
      max_concurrency: this.maxConcurrency ?? null,
      active_requests: this.activeRequests,
      consecutive_failures: this.consecutiveFailures,
      circuit_breaker: this.breaker.state,
      created_at: this.createdAt.toISOString(),
      last_heartbeat: this.lastHeartbeat?.toISOString() ?? null,
      last_error: this.lastError,
      metadata: this.metadata,
    }
  }
}

export type EngineView = ReturnType<Engine['describe']>
