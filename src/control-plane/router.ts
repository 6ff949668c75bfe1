// pickEngine's home: for one request, which engine serving its model takes it. Candidates are the
// READY engines of the model whose circuit breaker lets traffic through and that are under their
// max_concurrency; the model's routing strategy chooses among them. When every candidate is at
// capacity the request waits in the admission queue; a freed slot is handed straight to the waiter
// the scheduling policy puts first, so a newcomer cannot take it from under the queue.
import { noEngine, type ApiError } from '../errors'
import { AdmissionQueue, type SchedulingPolicy } from './admission-queue'
import type { Engine, Operation } from './engine'
import type { EngineRegistry } from './engine-registry'
import type { RouteHints } from './route-hints'
import { createStrategy, type LocalityOptions, type RoutingStrategy, type RoutingStrategyName } from './routing'

export interface RouterOptions {
  readonly routing: {
    readonly strategy: RoutingStrategyName
    readonly perModel: Readonly<Record<string, RoutingStrategyName>>
    readonly locality: LocalityOptions
  }
  readonly scheduling: { readonly policy: SchedulingPolicy; readonly queueSize: number; readonly queueTimeoutMs: number }
  readonly breakerCooldownMs: number
  /** Told of every routing decision, by strategy (metrics). */
  readonly onDecision?: (strategy: RoutingStrategyName) => void
  /** Told how long each request waited in the admission queue, in seconds (metrics). */
  readonly onQueueWait?: (seconds: number) => void
}

export interface RouteRequest extends RouteHints {
  readonly model: string
  readonly operation: Operation
  readonly signal: AbortSignal
}

export class Router {
  private readonly strategies = new Map<string, RoutingStrategy>()
  readonly queue: AdmissionQueue

  constructor(
    private readonly registry: EngineRegistry,
    private readonly options: RouterOptions,
  ) {
    const { policy, queueSize, queueTimeoutMs } = options.scheduling
    this.queue = new AdmissionQueue(policy, queueSize, queueTimeoutMs)
    registry.onCapacity((engine) => this.offer(engine))
    registry.onLeave(() => this.queue.dropImpossible())
  }

  strategyName(model: string): RoutingStrategyName {
    return this.options.routing.perModel[model] ?? this.options.routing.strategy
  }

  /** The routing decision among engines that can all take the request now. */
  pickEngine(candidates: readonly Engine[], request: RouteRequest): Engine | undefined {
    let strategy = this.strategies.get(request.model)
    if (!strategy) {
      strategy = createStrategy(this.strategyName(request.model), this.options.routing.locality)
      this.strategies.set(request.model, strategy)
    }
    this.options.onDecision?.(strategy.name)
    return strategy.pick(candidates, request)
  }

  /**
   * An engine for the request with one of its slots taken (give it back with release()), waiting in
   * the admission queue while every candidate is at capacity. Undefined when every READY engine of
   * the model is in `exclude`. Throws 503 when none is READY or all are cut off by their circuit
   * breaker (`retrying`: undefined instead, so the caller reports the failures it saw), 429 when the
   * queue is full or the wait is too long.
   */
  async acquire(request: RouteRequest, exclude: ReadonlySet<Engine>, retrying = false): Promise<Engine | undefined> {
    const { model, operation } = request
    for (;;) {
      // The usual case needs no await: engines serve the model now (resolve() waits out start-up, or throws why not).
      let ready = this.registry.candidates(model, operation)
      if (ready.length === 0 && !retrying) ready = await this.registry.resolve(model, operation)
      const open = exclude.size === 0 ? ready : ready.filter((e) => !exclude.has(e))
      if (open.length === 0) return undefined
      const routable = open.filter((e) => e.hasCapacity() && e.breaker.allows())
      if (routable.length) {
        const engine = this.pickEngine(routable, request)!
        this.take(engine)
        return engine
      }
      if (!open.some((e) => e.breaker.allows())) {
        if (retrying) return undefined
        throw this.circuitOpen(model, open)
      }
      const queuedAt = performance.now()
      const engineId = await this.queue.wait({
        priority: request.priority,
        deadlineAt: request.deadlineAt,
        signal: request.signal,
        timeoutMs: request.deadlineAt === undefined ? undefined : request.deadlineAt - Date.now(),
        possible: () => this.registry.candidates(model, operation).some((e) => !exclude.has(e)),
        unavailable: () => noEngine(model, 'every engine serving it left service while this request waited for capacity'),
        wants: (id) => {
          const engine = this.registry.get(id)
          return !!engine && !exclude.has(engine) && engine.models.has(model) && engine.servesOperation(operation)
        },
      })
      this.options.onQueueWait?.((performance.now() - queuedAt) / 1000)
      // offer() took the slot for this request before waking it.
      const engine = this.registry.get(engineId)
      if (engine) return engine
    }
  }

  /** Whether any READY engine of the request's model would let traffic through (busy or not). */
  hasCandidates(request: RouteRequest): boolean {
    return this.registry.candidates(request.model, request.operation).some((e) => e.breaker.allows())
  }

  /** Gives back the slot acquire() took. */
  release(engine: Engine): void {
    engine.activeRequests = Math.max(0, engine.activeRequests - 1)
    this.registry.requestEnded(engine)
  }

  get pendingRequests(): number {
    return this.queue.depth
  }

  private take(engine: Engine): void {
    engine.activeRequests++
    engine.breaker.onDispatch()
  }

  /** Hands the engine's free slots to waiting requests that can use them, best first. */
  private offer(engine: Engine): void {
    // Synchronous: the woken request resumes later, but its slot is taken before anyone else runs.
    while (this.queue.depth > 0 && engine.state === 'READY' && engine.hasCapacity() && engine.breaker.allows()) {
      if (!this.queue.release(engine.id)) return
      this.take(engine)
    }
  }

  private circuitOpen(model: string, engines: readonly Engine[]): ApiError {
    const seconds = Math.max(1, Math.ceil(this.options.breakerCooldownMs / 1000))
    return noEngine(
      model,
      `the circuit breaker of every engine serving it is open after repeated failures (${engines.map((e) => `${e.id}: ${e.lastError ?? 'failed'}`).join('; ')}); retry in ${seconds} s`,
      { 'retry-after': String(seconds) },
    )
  }
}
