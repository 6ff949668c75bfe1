// Counts requests and streams still being answered (for logs and tests), and holds the deadlines of
// the engine calls in flight, which end them all, each with a proper error, when the drain timeout passes.
import { Deadline } from './deadline'

export class InflightTracker {
  private count = 0
  private stopping?: Error
  private readonly calls = new Set<Deadline>()

  /** The gateway gave up waiting for in-flight requests. */
  get aborted(): boolean {
    return this.stopping !== undefined
  }

  abortAll(reason: string): void {
    this.stopping = new Error(reason)
    // Every call is aborted, even past one whose abort failed (the first failure is thrown after).
    let failure: { error: unknown } | undefined
    for (const call of this.calls) {
      try {
        call.abort(this.stopping)
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure) throw failure.error
  }

  /** The deadline of a new engine call: it aborts on silence, on the client's abort (watched from 100 ms in) and on abortAll. */
  deadline(ms: number, clientSignal: AbortSignal): Deadline {
    const deadline = new Deadline(ms, clientSignal, this.calls)
    if (this.stopping) deadline.abort(this.stopping)
    return deadline
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
