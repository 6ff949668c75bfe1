// Counts requests and streams still being answered (for logs and tests), and holds the signal
// that ends them all, each with a proper error, when the drain timeout passes.
export class InflightTracker {
  private count = 0
  private readonly shutdown = new AbortController()

  /** Aborted when the gateway gives up waiting for in-flight requests. */
  get shutdownSignal(): AbortSignal {
    return this.shutdown.signal
  }

  abortAll(reason: string): void {
    this.shutdown.abort(new Error(reason))
  }

  get size(): number {
    return this.count
  }

  begin(): void {
    this.count++
  }

  end(): void {
    this.count = Math.max(0, this.count - 1)
  }
}
