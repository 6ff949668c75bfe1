// A resettable timeout whose signal aborts an engine call: armed for the first byte, then
// re-armed by every chunk so it also bounds how long a stream may stay silent.
export class Deadline {
  private readonly controller = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new Error(`no answer within ${ms / 1000} s`)), ms)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  get expired(): boolean {
    return this.controller.signal.aborted
  }

  /** Starts the full period again from now. */
  reset(): void {
    this.timer.refresh()
  }

  clear(): void {
    clearTimeout(this.timer)
  }
}
