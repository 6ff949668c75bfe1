// The engines this gateway fronts and their state machine: STARTING → READY when a check passes,
// → ERROR after `failureThreshold` failed checks or requests (a refused connection at once),
// ERROR → READY when checks pass again, READY → DRAINING on request, DRAINING → STOPPED when its
// last request ends. Health checks run for all engines concurrently on an interval, never on the
// request path; model lists refresh on the same loop. The index of READY engines per model is what
// routing reads.
import { EngineError } from '../engines/engine-client'
import { ApiError, ERROR_CODES, invalidRequest, modelNotFound, noEngine } from '../errors'
import type { Logger } from '../telemetry/logger'
import { Engine, type BreakerSettings, type EngineSpec, type EngineState, type ModelCard, type Operation } from './engine'
import { checkEngine } from './health-check'

export { Engine, type EngineSpec, type EngineState, type ModelCard, type Operation } from './engine'

export interface RegistryOptions {
  readonly intervalMs: number
  readonly timeoutMs: number
  /** Consecutive failed checks or requests that take an engine to ERROR. */
  readonly failureThreshold?: number
  readonly breaker?: BreakerSettings
  readonly log: Logger
}

/** An engine that went to ERROR on a failed request is checked again this soon, not a whole interval later. */
const RECHECK_AFTER_PASSIVE_FAILURE_MS = 1000

export class EngineRegistry {
  private readonly engines = new Map<string, Engine>()
  /** READY engines per model, rebuilt whenever a state or model list changes ... */
  private index = new Map<string, Engine[]>()
  /** ... and those of them able to serve each operation, so routing never filters by kind. */
  private byOperation: Record<Operation, Map<string, Engine[]>> = emptyIndex()
  private readonly checking = new Map<Engine, Promise<void>>()
  private readonly rechecks = new Map<Engine, ReturnType<typeof setTimeout>>()
  private readonly listeners = new Set<(engine: Engine) => void>()
  private readonly leaveListeners = new Set<() => void>()
  private readonly breakerTimers = new Map<Engine, ReturnType<typeof setTimeout>>()
  private readonly stopWaiters = new Map<Engine, (() => void)[]>()
  private timer: ReturnType<typeof setInterval> | undefined
  private firstRound: Promise<void> | undefined
  private firstRoundDone = false

  constructor(specs: readonly EngineSpec[], private readonly options: RegistryOptions) {
    for (const spec of specs) this.add(spec)
  }

  get all(): readonly Engine[] {
    return [...this.engines.values()]
  }

  get(id: string): Engine | undefined {
    return this.engines.get(id)
  }

  /** Adds an engine in STARTING; it takes traffic once a check passes. */
  add(spec: EngineSpec): Engine {
    if (this.engines.has(spec.id)) throw conflict(`An engine with engine_id '${spec.id}' is already registered`)
    const same = this.all.find((e) => e.baseUrl === spec.baseUrl)
    if (same) throw conflict(`The engine at ${spec.baseUrl} is already registered as '${same.id}'`)
    const engine = new Engine(spec, this.options.breaker ?? { failureThreshold: 3, cooldownMs: 10_000 })
    this.engines.set(spec.id, engine)
    return engine
  }

  /** Forgets an engine: it gets no new requests; requests already on it run to their end. */
  remove(engine: Engine): void {
    if (this.engines.get(engine.id) !== engine) return
    this.engines.delete(engine.id)
    clearTimeout(this.rechecks.get(engine))
    this.rechecks.delete(engine)
    if (engine.state !== 'STOPPED') this.setState(engine, 'STOPPED')
    else this.rebuildIndex()
  }

  /** Called whenever an engine may take more requests than before (READY again, capacity raised, slot freed). */
  onCapacity(listener: (engine: Engine) => void): void {
    this.listeners.add(listener)
  }

  /** Called whenever an engine stops taking requests (ERROR, DRAINING, STOPPED, removed). */
  onLeave(listener: () => void): void {
    this.leaveListeners.add(listener)
  }

  /** Checks every engine now, then again on every interval. */
  start(): Promise<void> {
    this.firstRound ??= this.checkAll().finally(() => {
      this.firstRoundDone = true
    })
    this.timer ??= setInterval(() => void this.checkAll(), this.options.intervalMs)
    return this.firstRound
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const t of [...this.rechecks.values(), ...this.breakerTimers.values()]) clearTimeout(t)
    this.rechecks.clear()
    this.breakerTimers.clear()
  }

  async checkAll(): Promise<void> {
    await Promise.all(this.all.map((e) => this.check(e)))
  }

  /** One health check of one engine (joins a check already running). */
  check(engine: Engine): Promise<void> {
    if (engine.state === 'DRAINING' || engine.state === 'STOPPED') return Promise.resolve()
    let running = this.checking.get(engine)
    if (!running) {
      running = this.runCheck(engine).finally(() => this.checking.delete(engine))
      this.checking.set(engine, running)
    }
    return running
  }

  /** Resolves once the first round of health checks is over (at once after it). */
  async settled(): Promise<void> {
    if (this.firstRound && !this.firstRoundDone) await this.firstRound
  }

  /** READY engines serving `model` for `op`, or the error that says why there are none. */
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
    return this.byOperation[op].get(model) ?? NONE
  }

  /**
   * Whether a Messages request for `model` goes to engines speaking the Anthropic API (untranslated):
   * one is READY for it; or none is, nor any OpenAI engine, but one lists it or is down with its list
   * unknown (not reached since start-up: a vLLM still loading). The client then gets the 503 (529) to
   * retry on, not the translated path's "no engine serves chat" or "no such model".
   */
  messagesGoNative(model: string): boolean {
    if (this.candidates(model, 'messages').length > 0) return true
    // An OpenAI engine that lists the model, up or down, keeps the translated way (and its answer names
    // it). The READY ones are indexed: the usual request is answered without a walk over the fleet.
    if (this.candidates(model, 'chat').length > 0 || this.all.some((e) => e.servesOperation('chat') && e.models.has(model))) return false
    return this.all.some((e) => e.servesOperation('messages') && (e.models.has(model) || (unreached(e) && e.models.size === 0)))
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

  /** A request succeeded: the engine is healthy and its circuit breaker closes. */
  recordSuccess(engine: Engine): void {
    engine.breaker.onSuccess()
    this.markHealthy(engine)
  }

  /**
   * The engine answered (a request or a health check). Only requests reach the circuit breaker: an
   * engine whose /health passes while its inference fails must stay cut off for the cooldown.
   */
  private markHealthy(engine: Engine): void {
    engine.consecutiveFailures = 0
    engine.lastHeartbeat = new Date()
    if (engine.state === 'ERROR' || engine.state === 'STARTING') this.setState(engine, 'READY')
  }

  /**
   * A request to the engine failed in a way that is the engine's fault (passive health check). An
   * engine that could not be connected to at all is taken out at once; other failures count.
   */
  recordRequestFailure(engine: Engine, error: EngineError, { unreachable = false } = {}): void {
    engine.breaker.onFailure()
    if (engine.breaker.state === 'open') {
      // When the cooldown ends the half-open probe may go to a request waiting in the queue.
      clearTimeout(this.breakerTimers.get(engine))
      const cooldownMs = this.options.breaker?.cooldownMs ?? 10_000
      this.breakerTimers.set(engine, setTimeout(() => {
        this.breakerTimers.delete(engine)
        this.announce(engine)
      }, cooldownMs + 1))
    }
    this.recordFailure(engine, error, unreachable)
    if (engine.state === 'ERROR' && !this.rechecks.has(engine) && this.engines.get(engine.id) === engine) {
      const timer = setTimeout(() => {
        this.rechecks.delete(engine)
        void this.check(engine)
      }, Math.min(RECHECK_AFTER_PASSIVE_FAILURE_MS, this.options.intervalMs))
      this.rechecks.set(engine, timer)
    }
  }

  /** Puts an engine in DRAINING (no new requests) or back to READY; a drained engine becomes STOPPED. */
  setDraining(engine: Engine): void {
    if (engine.state === 'DRAINING' || engine.state === 'STOPPED') return
    this.setState(engine, 'DRAINING')
    this.settleDrain(engine)
  }

  /** Re-admits a DRAINING, STOPPED or ERROR engine through a health check; resolves with its new state. */
  async readmit(engine: Engine): Promise<EngineState> {
    if (engine.state === 'DRAINING' || engine.state === 'STOPPED') this.setState(engine, 'STARTING')
    await this.check(engine)
    return engine.state
  }

  /** A request on the engine ended: a draining engine with none left is STOPPED; a freed slot is announced. */
  requestEnded(engine: Engine): void {
    if (engine.state === 'DRAINING') this.settleDrain(engine)
    else this.announce(engine)
  }

  /** Announces that the engine may take more requests (its max_concurrency was raised, say). */
  announce(engine: Engine): void {
    for (const listener of this.listeners) listener(engine)
  }

  /** Resolves once the engine is STOPPED (a drained engine's last request ended, or it was removed). */
  whenStopped(engine: Engine): Promise<void> {
    if (engine.state === 'STOPPED') return Promise.resolve()
    return new Promise((resolve) => {
      const waiters = this.stopWaiters.get(engine)
      if (waiters) waiters.push(resolve)
      else this.stopWaiters.set(engine, [resolve])
    })
  }

  private settleDrain(engine: Engine): void {
    if (engine.state === 'DRAINING' && engine.activeRequests === 0) this.setState(engine, 'STOPPED')
  }

  private recordFailure(engine: Engine, error: Error, immediately = false): void {
    engine.consecutiveFailures++
    engine.lastError = error.message
    const threshold = this.options.failureThreshold ?? 2
    if ((engine.state === 'READY' || engine.state === 'STARTING') && (immediately || engine.consecutiveFailures >= threshold))
      this.setState(engine, 'ERROR')
  }

  private unavailable(model: string, op: Operation): ApiError {
    const engines = this.all
    if (engines.length === 0) return noEngine(model, 'no engine is configured (use --engine URL or --mock)')
    const servedBy = engines.filter((e) => e.models.has(model))
    const able = servedBy.filter((e) => e.servesOperation(op))
    if (able.length) return noEngine(model, able.map((e) => `${e.id} is ${e.state}${e.lastError ? ` (${e.lastError})` : ''}`).join('; '))
    // No engine that does `op` lists the model. One not reached yet might (its list is unknown): wait for it.
    const unknown = engines.filter((e) => unreached(e) && e.servesOperation(op))
    if (unknown.length)
      return noEngine(model, `it is not listed by any reachable engine, and ${unknown.length} engine(s) are unreachable: ${unknown.map((e) => `${e.id} (${e.lastError ?? e.state})`).join(', ')}`)
    // Served, but only by engines that do not do `op` (chat to an embedding model): a request that no
    // retry can help is the client's error, as OpenAI answers it, not a 503.
    if (servedBy.length) return invalidRequest(`The model '${model}' does not serve ${op}: it is served only by ${servedBy.map((e) => `${e.id} (${e.role})`).join(', ')}`, 'model')
    return modelNotFound(model)
  }

  private async runCheck(engine: Engine): Promise<void> {
    try {
      const models = await checkEngine(engine, this.options.timeoutMs)
      if (engine.state === 'DRAINING' || engine.state === 'STOPPED') return
      const changed = !sameKeys(engine.models, models)
      // An engine's first passing check reports its models even when it lists none.
      const first = engine.lastHeartbeat === null
      engine.models = models
      engine.lastError = null
      this.markHealthy(engine)
      if (changed) this.rebuildIndex()
      if (changed || first) {
        this.options.log.info('engine models discovered', { engine_id: engine.id, url: engine.baseUrl, models: [...models.keys()] })
        // Routing goes by the models an engine lists: a declared model it does not list is one whose
        // requests will not reach it (a served-model-name left out, a typo in SAGELLM_ENGINE_MODEL).
        if (engine.modelId !== undefined && !models.has(engine.modelId))
          this.options.log.warning('engine does not serve its declared model_id: requests for that model will not reach it', {
            engine_id: engine.id,
            model_id: engine.modelId,
            models: [...models.keys()],
          })
      }
    } catch (e) {
      if (engine.state === 'DRAINING' || engine.state === 'STOPPED') return
      this.recordFailure(engine, e as Error)
      this.options.log.debug('engine health check failed', { engine_id: engine.id, url: engine.baseUrl, error: (e as Error).message })
    }
  }

  private setState(engine: Engine, state: EngineState): void {
    const from = engine.state
    if (from === state) return
    engine.state = state
    this.rebuildIndex()
    const level = state === 'ERROR' ? 'warning' : 'info'
    this.options.log[level]('engine state changed', { engine_id: engine.id, url: engine.baseUrl, from, to: state, error: state === 'ERROR' ? (engine.lastError ?? undefined) : undefined })
    if (state === 'READY') this.announce(engine)
    else for (const listener of this.leaveListeners) listener()
    if (state === 'STOPPED') {
      for (const resolve of this.stopWaiters.get(engine) ?? []) resolve()
      this.stopWaiters.delete(engine)
    }
  }

  private rebuildIndex(): void {
    const index = new Map<string, Engine[]>()
    const byOperation = emptyIndex()
    for (const engine of this.engines.values()) {
      if (engine.state !== 'READY') continue
      for (const model of engine.models.keys()) {
        append(index, model, engine)
        for (const op of OPERATIONS) if (engine.servesOperation(op)) append(byOperation[op], model, engine)
      }
    }
    this.index = index
    this.byOperation = byOperation
  }
}

function conflict(message: string): ApiError {
  return new ApiError(409, message, 'invalid_request_error', ERROR_CODES.conflict, 'engine_id')
}

const NONE: readonly Engine[] = []
const OPERATIONS: readonly Operation[] = ['chat', 'completions', 'embeddings', 'messages']

function emptyIndex(): Record<Operation, Map<string, Engine[]>> {
  return { chat: new Map(), completions: new Map(), embeddings: new Map(), messages: new Map() }
}

function append(index: Map<string, Engine[]>, model: string, engine: Engine): void {
  const list = index.get(model)
  if (list) list.push(engine)
  else index.set(model, [engine])
}

function sameKeys(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false
  for (const k of a.keys()) if (!b.has(k)) return false
  return true
}

/** An engine not reached now (starting, or failing its checks): its model list may be out of date. Drained and stopped ones are leaving. */
function unreached(engine: Engine): boolean {
  return engine.state === 'STARTING' || engine.state === 'ERROR'
}
