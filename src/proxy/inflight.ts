// Counts requests and streams still being answered, so shutdown can wait for them to finish.
export class InflightTracker {
  private count = 0
  private waiters: (() => void)[] = []

  get size(): number {
    return this.count
  }

  begin(): void {
    this.count++
  }

  end(): void {
    this.count = Math.max(0, this.count - 1)
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake()
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passes first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }
}
