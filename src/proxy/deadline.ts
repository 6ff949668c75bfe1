// The one abort signal of an engine call. It aborts when the engine stays silent too long, when the
// client goes away, or when the gateway gives up draining at shutdown, with a reason that says which.
// The timeout only runs while the gateway is waiting on the engine: armed for the first byte, then
// before every read of a stream and disarmed after it, so a slow client's backpressure never counts
// as engine silence. Arming only notes the time; the timer checks it when it fires (no timer work per
// chunk). It is a CallSignal of its own: no AbortController, closure or AbortSignal per call (the
// gateway's engine client listens to the deadline itself; fetch gets an AbortSignal from abortSignalOf).
// The client is watched from CLIENT_WATCH_AFTER_MS into the call: a call over sooner (an embedding, a
// short completion) never registers a listener with Bun's request signal, which cost ~3 µs and 6% of
// the non-stream throughput (bench/RESULTS.md, session 7); a client that leaves earlier is noticed then.
import type { CallSignal } from '../engines/engine-client'

/** How far into an engine call the client's going away starts to be watched (an earlier leaver is noticed then). */
export const CLIENT_WATCH_AFTER_MS = 100

export class Deadline implements CallSignal {
  aborted = false
  reason: unknown = undefined
  private listeners?: (() => void)[]
  private timer?: ReturnType<typeof setTimeout>
  private waiting = true
  private armedAt = performance.now()
  /** The client's signal, until it is watched (then `watched`). */
  private client?: AbortSignal
  private watched = false
  private done = false

  /**
   * @param ms silence allowed while waiting on the engine
   * @param clientSignal the client's request signal: its abort aborts the call (watched from
   *   CLIENT_WATCH_AFTER_MS on; a client gone before the call aborts it at once)
   * @param owner the live deadlines that a shutdown aborts (the deadline leaves it when cleared)
   */
  constructor(
    readonly ms: number,
    clientSignal?: AbortSignal,
    private readonly owner?: Set<Deadline>,
  ) {
    if (clientSignal?.aborted) this.abort(clientSignal.reason)
    else this.client = clientSignal
    // The first timer also starts watching the client, if the call is still on by then.
    this.timer = setTimeout(check, clientSignal ? Math.min(ms, CLIENT_WATCH_AFTER_MS) : ms, this)
    owner?.add(this)
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    // As with an AbortSignal: a listener added after the abort is never called, one added twice once.
    if (this.aborted || this.done) return
    const listeners = (this.listeners ??= [])
    if (!listeners.includes(listener)) listeners.push(listener)
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1
    if (at >= 0) this.listeners!.splice(at, 1)
  }

  /** Starts waiting on the engine: the full period from now. */
  arm(): void {
    this.waiting = true
    this.armedAt = performance.now()
    if (!this.timer && !this.done) this.timer = setTimeout(check, this.ms, this)
  }

  /** The engine answered; until the next arm(), time passes on the client's account. */
  disarm(): void {
    this.waiting = false
  }

  /** Aborts the call now (the gateway's shutdown), unless it already was. */
  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError')
    const listeners = this.listeners
    if (!listeners) return
    // As an AbortSignal dispatches, each listener still registered runs (one removed by an earlier one
    // does not), and one that throws does not keep the others from running; its error is thrown after.
    let failure: { error: unknown } | undefined
    for (const listener of [...listeners]) {
      if (!listeners.includes(listener)) continue
      try {
        listener()
      } catch (error) {
        failure ??= { error }
      }
    }
    this.listeners = undefined
    if (failure) throw failure.error
  }

  /** The call is over: no more timeout, no more listening to the client. */
  clear(): void {
    if (this.done) return
    this.done = true
    this.waiting = false
    this.listeners = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.watched) this.client!.removeEventListener('abort', this)
    this.owner?.delete(this)
  }

  /** The client's signal aborted. */
  handleEvent(): void {
    this.abort(this.client?.reason)
  }

  /** The timer fired: abort if the engine has been silent for the whole period, else wait the rest. */
  expire(): void {
    this.timer = undefined
    if (this.done || this.aborted) return
    if (this.client && !this.watched) {
      if (this.client.aborted) return this.abort(this.client.reason)
      // The deadline is its own listener (handleEvent): no function per call.
      this.client.addEventListener('abort', this)
      this.watched = true
    }
    // Not waiting: the next arm() starts a new period (and a timer).
    if (!this.waiting) return
    const left = this.armedAt + this.ms - performance.now()
    if (left > 1) this.timer = setTimeout(check, left, this)
    else this.abort(new Error(`the engine sent nothing for ${this.ms / 1000} s`))
  }
}

const check = (deadline: Deadline): void => deadline.expire()
