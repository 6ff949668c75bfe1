// The engines this gateway fronts: their records and states, the models they serve (learned from
// each engine's `GET {base}/models` at start-up and on every interval), and which engines may take a
// request for a model right now. Passive failures reported by the proxy count like failed checks.
import type { EngineEndpoint, EngineFetch } from '../engines/engine-client'
import { describeFailure, EngineError } from '../engines/engine-client'
import { modelNotFound, noEngine } from '../errors'
import type { Logger } from '../telemetry/logger'

/** The original control plane's states. */
export type EngineState = 'STARTING' | 'READY' | 'DRAINING' | 'STOPPED' | 'ERROR'

/** What a request needs from an engine; embedding engines serve only embeddings. */
export type Operation = 'chat' | 'completions' | 'embeddings'

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
}

export class Engine implements EngineEndpoint {
  state: EngineState = 'STARTING'
  models = new Map<string, ModelCard>()
  consecutiveFailures = 0
  activeRequests = 0
  lastHeartbeat: Date | null = null
  lastError: string | null = null
  readonly createdAt = new Date()

  constructor(private readonly spec: EngineSpec) {}

  get id() { return this.spec.id }
  get baseUrl() { return this.spec.baseUrl }
  get kind() { return this.spec.kind }
  get fetch() { return this.spec.fetch }
  get apiKey() { return this.spec.apiKey }
  get modelId() { return this.spec.modelId }

  servesOperation(op: Operation): boolean {
    return this.kind !== 'embedding' || op === 'embeddings'
  }

  /** The engine as /health and the management API show it (never its API key). */
  describe() {
    return {
      engine_id: this.id,
      url: this.baseUrl,
      engine_kind: this.kind,
      model_id: this.modelId ?? [...this.models.keys()][0] ?? null,
      models: [...this.models.keys()],
      state: this.state,
      is_healthy: this.state === 'READY',
      consecutive_failures: this.consecutiveFailures,
      active_requests: this.activeRequests,
      created_at: this.createdAt.toISOString(),
      last_heartbeat: this.lastHeartbeat?.toISOString() ?? null,
      last_error: this.lastError,
    }
  }
}

export interface RegistryOptions {
  readonly intervalMs: number
  readonly timeoutMs: number
  /** Consecutive failed checks or requests that take a READY engine to ERROR. */
  readonly failureThreshold?: number
  readonly log: Logger
}

export class EngineRegistry {
  private readonly engines: Engine[]
  /** READY engines per model, rebuilt whenever a state or model list changes. */
  private index = new Map<string, Engine[]>()
  private readonly checking = new Set<Engine>()
  private timer: ReturnType<typeof setInterval> | undefined
  private firstRound: Promise<void> | undefined
  private firstRoundDone = false

  constructor(specs: readonly EngineSpec[], private readonly options: RegistryOptions) {
    this.engines = specs.map((s) => new Engine(s))
  }

  get all(): readonly Engine[] {
    return this.engines
  }

  /** Discovers every engine now, then again on every interval. */
  start(): Promise<void> {
    this.firstRound ??= this.refreshAll().finally(() => {
      this.firstRoundDone = true
    })
    this.timer ??= setInterval(() => void this.refreshAll(), this.options.intervalMs)
    return this.firstRound
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  async refreshAll(): Promise<void> {
    await Promise.all(this.engines.map((e) => this.discover(e)))
  }

  /** Engines that may take a request for `model` now, or an error that says why none can. */
  async resolve(model: string, op: Operation): Promise<readonly Engine[]> {
    const ready = this.candidates(model, op)
    if (ready.length) return ready
    // Right after start-up the model lists may still be on their way.
    if (this.firstRound && !this.firstRoundDone) {
      await this.firstRound
      const late = this.candidates(model, op)
      if (late.length) return late
    }
    throw this.unavailable(model, op)
  }

  candidates(model: string, op: Operation): readonly Engine[] {
    const list = this.index.get(model)
    if (!list) return []
    return op === 'embeddings' ? list : list.filter((e) => e.servesOperation(op))
  }

  /** One card per model id served by a READY engine; the first engine's card wins. */
  listModels(): ModelCard[] {
    const cards: ModelCard[] = []
    for (const [id, engines] of this.index) {
      const card = engines[0]?.models.get(id)
      if (card) cards.push(card)
    }
    return cards
  }

  recordSuccess(engine: Engine): void {
    engine.consecutiveFailures = 0
    engine.lastHeartbeat = new Date()
    if (engine.state === 'ERROR' || engine.state === 'STARTING') this.setState(engine, 'READY')
  }

  recordFailure(engine: Engine, error: Error): void {
    engine.consecutiveFailures++
    engine.lastError = error.message
    if (engine.consecutiveFailures >= (this.options.failureThreshold ?? 2) && engine.state !== 'ERROR')
      this.setState(engine, 'ERROR')
  }

  private unavailable(model: string, op: Operation) {
    const servedBy = this.engines.filter((e) => e.models.has(model))
    if (servedBy.length) {
      const states = servedBy.map((e) => `${e.id} is ${e.state}${e.lastError ? ` (${e.lastError})` : ''}`).join('; ')
      const wrongKind = servedBy.every((e) => !e.servesOperation(op))
      return noEngine(model, wrongKind ? `its engines are ${servedBy[0]!.kind} engines and do not serve ${op}` : states)
    }
    if (this.engines.length === 0) return noEngine(model, 'no engine is configured (use --engine URL or --mock)')
    const unknown = this.engines.filter((e) => e.state !== 'READY')
    if (unknown.length)
      return noEngine(model, `it is not listed by any reachable engine, and ${unknown.length} engine(s) are unreachable: ${unknown.map((e) => `${e.id} (${e.lastError ?? e.state})`).join(', ')}`)
    return modelNotFound(model)
  }

  private async discover(engine: Engine): Promise<void> {
    // A check slower than the interval must not pile up behind itself.
    if (engine.state === 'DRAINING' || engine.state === 'STOPPED' || this.checking.has(engine)) return
    this.checking.add(engine)
    const timeout = AbortSignal.timeout(this.options.timeoutMs)
    try {
      const res = await engine.fetch(`${engine.baseUrl}/models`, {
        headers: engine.apiKey ? { authorization: `Bearer ${engine.apiKey}` } : {},
        signal: timeout,
      })
      if (!res.ok) throw new EngineError('http', `GET /models answered HTTP ${res.status}`, res.status)
      const body = (await res.json()) as { data?: unknown }
      if (!Array.isArray(body.data)) throw new EngineError('protocol', 'GET /models did not return a model list')
      const models = new Map<string, ModelCard>()
      for (const m of body.data as Partial<ModelCard>[]) {
        if (typeof m?.id !== 'string') continue
        models.set(m.id, { ...m, id: m.id, object: 'model', created: m.created ?? Math.floor(engine.createdAt.getTime() / 1000), owned_by: m.owned_by ?? 'sagellm' })
      }
      const changed = !sameKeys(engine.models, models)
      engine.models = models
      engine.lastError = null
      this.recordSuccess(engine)
      if (changed) {
        this.rebuildIndex()
        this.options.log.info('engine models discovered', { engine_id: engine.id, url: engine.baseUrl, models: [...models.keys()] })
      }
    } catch (e) {
      const err = describeFailure(e, { signal: timeout, clientSignal: new AbortController().signal })
      this.recordFailure(engine, err)
      this.options.log.debug('engine discovery failed', { engine_id: engine.id, url: engine.baseUrl, error: err.message })
    } finally {
      this.checking.delete(engine)
    }
  }

  private setState(engine: Engine, state: EngineState): void {
    const from = engine.state
    engine.state = state
    this.rebuildIndex()
    const level = state === 'ERROR' ? 'warning' : 'info'
    this.options.log[level]('engine state changed', { engine_id: engine.id, url: engine.baseUrl, from, to: state, error: engine.lastError ?? undefined })
  }

  private rebuildIndex(): void {
    const index = new Map<string, Engine[]>()
    for (const engine of this.engines) {
      if (engine.state !== 'READY') continue
      for (const model of engine.models.keys()) {
        const list = index.get(model)
        if (list) list.push(engine)
        else index.set(model, [engine])
      }
    }
    this.index = index
  }
}

function sameKeys(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false
  for (const k of a.keys()) if (!b.has(k)) return false
  return true
}
