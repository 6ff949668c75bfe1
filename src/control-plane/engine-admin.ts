// What the management API does to the fleet: register an engine (persisted, checked at once), change
// its weight, max_concurrency, metadata or state, remove it (optionally after draining its in-flight
// requests) and prune the STOPPED and ERROR ones. Engines registered here are stored in SQLite and
// come back after a restart; config engines come back from the config, so only their running copy changes.
import type { EngineRepository, StoredEngine } from '../db/engine-repository'
import type { EngineFetch } from '../engines/engine-client'
import { ApiError, ERROR_CODES, invalidRequest } from '../errors'
import type { Logger } from '../telemetry/logger'
import type { Engine, EngineSpec, EngineState } from './engine'
import type { EngineRegistry } from './engine-registry'

export interface RegisterInput {
  readonly engineId: string
  readonly baseUrl: string
  readonly modelId?: string
  readonly engineKind: string
  readonly api: 'openai' | 'anthropic'
  readonly weight: number
  readonly maxConcurrency?: number
  readonly metadata: Record<string, unknown>
}

export interface EnginePatch {
  readonly weight?: number
  /** null lifts the limit. */
  readonly maxConcurrency?: number | null
  readonly metadata?: Record<string, unknown>
  readonly state?: 'DRAINING' | 'READY'
}

export interface EngineAdminDeps {
  readonly registry: EngineRegistry
  readonly repository: EngineRepository
  readonly fetch: EngineFetch
  /** How long DELETE ?drain=true waits for in-flight requests. */
  readonly drainTimeoutMs: number
  readonly log: Logger
}

export class EngineAdmin {
  constructor(private readonly deps: EngineAdminDeps) {}

  /** Brings back the engines registered through the API before the last restart. */
  restore(): void {
    for (const stored of this.deps.repository.list()) {
      try {
        this.deps.registry.add(this.specOf(stored))
      } catch (e) {
        // The config now names this engine (its id or its URL): the config wins, and the stored copy
        // goes, so the id can be registered again and nothing lingers that the API cannot see.
        this.deps.repository.delete(stored.engine_id)
        this.deps.log.warning('stored engine dropped: the configuration now defines it', { engine_id: stored.engine_id, url: stored.base_url, error: (e as Error).message })
      }
    }
  }

  async register(input: RegisterInput): Promise<Engine> {
    const stored: StoredEngine = {
      engine_id: input.engineId,
      base_url: input.baseUrl,
      model_id: input.modelId ?? null,
      engine_kind: input.engineKind,
      api: input.api,
      weight: input.weight,
      max_concurrency: input.maxConcurrency ?? null,
      metadata: input.metadata,
      created_at: new Date().toISOString(),
    }
    const engine = this.deps.registry.add(this.specOf(stored))
    try {
      this.deps.repository.add(stored)
    } catch (e) {
      this.deps.registry.remove(engine)
      throw e
    }
    this.deps.log.info('engine registered', { engine_id: engine.id, url: engine.baseUrl })
    await this.deps.registry.check(engine)
    return engine
  }

  async update(engine: Engine, patch: EnginePatch): Promise<Engine> {
    // Re-admission first: a PATCH answered 409 changes nothing else.
    if (patch.state === 'READY') await this.readmit(engine)
    if (patch.weight !== undefined) engine.weight = patch.weight
    if (patch.maxConcurrency !== undefined) engine.maxConcurrency = patch.maxConcurrency ?? undefined
    if (patch.metadata !== undefined) engine.metadata = { ...engine.metadata, ...patch.metadata }
    if (engine.source === 'api')
      this.deps.repository.save(engine.id, { weight: engine.weight, max_concurrency: engine.maxConcurrency ?? null, metadata: engine.metadata })
    if (patch.state === 'DRAINING') this.deps.registry.setDraining(engine)
    // A raised weight or limit may let queued requests in.
    this.deps.registry.announce(engine)
    this.deps.log.info('engine updated', { engine_id: engine.id, weight: engine.weight, max_concurrency: engine.maxConcurrency, state: engine.state })
    return engine
  }

  /** Removes the engine, after its in-flight requests end when `drain` (up to the drain timeout). */
  async remove(engine: Engine, drain: boolean): Promise<{ engine_id: string; stopped: boolean; drained: boolean }> {
    let drained = false
    if (drain) {
      this.deps.registry.setDraining(engine)
      drained = await this.whenStopped(engine)
    }
    this.deps.registry.remove(engine)
    if (engine.source === 'api') this.deps.repository.delete(engine.id)
    this.deps.log.info('engine removed', { engine_id: engine.id, drained, in_flight: engine.activeRequests })
    return { engine_id: engine.id, stopped: true, drained }
  }

  /** Removes every STOPPED and ERROR engine. */
  prune(): string[] {
    const gone = this.deps.registry.all.filter((e) => e.state === 'STOPPED' || e.state === 'ERROR')
    for (const engine of gone) {
      this.deps.registry.remove(engine)
      if (engine.source === 'api') this.deps.repository.delete(engine.id)
    }
    if (gone.length) this.deps.log.info('engines pruned', { engine_ids: gone.map((e) => e.id) })
    return gone.map((e) => e.id)
  }

  private async readmit(engine: Engine): Promise<EngineState> {
    const state = await this.deps.registry.readmit(engine)
    if (state !== 'READY')
      throw new ApiError(
        409,
        `Engine '${engine.id}' cannot be READY: its health check failed (${engine.lastError ?? state})`,
        'invalid_request_error',
        ERROR_CODES.unavailable,
        'state',
      )
    return state
  }

  private async whenStopped(engine: Engine): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.deps.drainTimeoutMs)))
    const stopped = await Promise.race([this.deps.registry.whenStopped(engine).then(() => true as const), timeout])
    clearTimeout(timer)
    return stopped
  }

  private specOf(stored: StoredEngine): EngineSpec {
    if (!(stored.weight > 0)) throw invalidRequest('weight must be > 0', 'weight')
    return {
      id: stored.engine_id,
      baseUrl: stored.base_url,
      kind: stored.engine_kind,
      modelId: stored.model_id ?? undefined,
      api: stored.api === 'anthropic' ? 'anthropic' : 'openai',
      weight: stored.weight,
      maxConcurrency: stored.max_concurrency ?? undefined,
      metadata: stored.metadata,
      createdAt: new Date(stored.created_at),
      source: 'api',
      fetch: this.deps.fetch,
    }
  }
}
