// A timeout that only runs while the gateway is waiting on an engine: armed for the first byte, then
// re-armed before every read of a stream and disarmed after it, so a slow client's backpressure never
// counts as engine silence. Its signal aborts the engine call; the reason says what happened.
export class Deadline {
  private readonly controller = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>
  private waiting = true

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => {
      if (this.waiting) this.controller.abort(new Error(`the engine sent nothing for ${ms / 1000} s`))
    }, ms)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Starts waiting on the engine: the full period from now. */
  arm(): void {
    this.waiting = true
    this.timer.refresh()
  }

  /** The engine answered; until the next arm(), time passes on the client's account. */
  disarm(): void {
    this.waiting = false
  }

  clear(): void {
    this.waiting = false
    clearTimeout(this.timer)
  }
}
