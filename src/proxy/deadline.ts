// The one abort signal of an engine call. It aborts when the engine stays silent too long, when the
// client goes away, or when the gateway gives up draining at shutdown, with a reason that says which.
// The timeout only runs while the gateway is waiting on the engine: armed for the first byte, then
// before every read of a stream and disarmed after it, so a slow client's backpressure never counts
// as engine silence. Arming only notes the time; the timer checks it when it fires (no timer work per
// chunk), and one controller serves all three causes (no AbortSignal.any per attempt).
export class Deadline {
  private readonly controller = new AbortController()
  private timer?: ReturnType<typeof setTimeout>
  private waiting = true
  private armedAt = performance.now()
  private client?: AbortSignal
  private done = false

  /**
   * @param ms silence allowed while waiting on the engine
   * @param clientSignal the client's request signal: its abort aborts the call
   * @param owner the live deadlines that a shutdown aborts (the deadline leaves it when cleared)
   */
  constructor(
    readonly ms: number,
    clientSignal?: AbortSignal,
    private readonly owner?: Set<Deadline>,
  ) {
    this.timer = setTimeout(this.check, ms)
    if (clientSignal) {
      if (clientSignal.aborted) this.controller.abort(clientSignal.reason)
      else {
        this.client = clientSignal
        clientSignal.addEventListener('abort', this.onClientAbort)
      }
    }
    owner?.add(this)
  }

  /** Aborted by the timeout, the client's going away or the shutdown, with a reason that says which. */
  readonly signal = this.controller.signal

  /** Starts waiting on the engine: the full period from now. */
  arm(): void {
    this.waiting = true
    this.armedAt = performance.now()
    if (!this.timer && !this.done) this.timer = setTimeout(this.check, this.ms)
  }

  /** The engine answered; until the next arm(), time passes on the client's account. */
  disarm(): void {
    this.waiting = false
  }

  /** Aborts the call now (the gateway's shutdown). */
  abort(reason: Error): void {
    this.controller.abort(reason)
  }

  /** The call is over: no more timeout, no more listening to the client. */
  clear(): void {
    if (this.done) return
    this.done = true
    this.waiting = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.client?.removeEventListener('abort', this.onClientAbort)
    this.owner?.delete(this)
  }

  private readonly check = (): void => {
    this.timer = undefined
    // Not waiting: the next arm() starts a new period (and a timer).
    if (!this.waiting || this.done) return
    const left = this.armedAt + this.ms - performance.now()
    if (left > 1) this.timer = setTimeout(this.check, left)
    else this.controller.abort(new Error(`the engine sent nothing for ${this.ms / 1000} s`))
  }

  private readonly onClientAbort = (): void => {
    this.controller.abort(this.client?.reason)
  }
}
