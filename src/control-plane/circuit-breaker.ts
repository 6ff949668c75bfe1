// A circuit breaker per engine: after `threshold` consecutive failed requests it opens and the engine
// gets no traffic; after `cooldownMs` it lets exactly one probe through (half-open); the probe's
// success closes it, its failure opens it again for another cooldown.
export type BreakerState = 'closed' | 'open' | 'half_open'

export class CircuitBreaker {
  private current: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probing = false

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) {
      this.current = 'half_open'
      this.probing = false
    }
    return this.current
  }

  /** Whether a request may be sent now (in half-open, only while no probe is out). */
  allows(): boolean {
    const state = this.state
    return state === 'closed' || (state === 'half_open' && !this.probing)
  }

  /** A request was sent: in half-open it is the probe. */
  onDispatch(): void {
    if (this.state === 'half_open') this.probing = true
  }

  onSuccess(): void {
    this.failures = 0
    this.current = 'closed'
    this.probing = false
  }

  onFailure(): void {
    this.failures++
    if (this.state === 'half_open' || this.failures >= this.threshold) {
      this.current = 'open'
      this.openedAt = this.now()
      this.probing = false
    }
  }

  /** The probe was abandoned (the client left): let another request probe. */
  onAbandon(): void {
    this.probing = false
  }
}
