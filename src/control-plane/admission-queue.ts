// Requests that find every engine of their model at max_concurrency wait here, in the order of the
// scheduling policy, until an engine able to serve them frees a slot; a full queue or a wait longer
// than queue_timeout answers 429 (protocol code resource_exhausted) with Retry-After.
import { ClientGone } from '../engines/engine-client'
import { ApiError, ERROR_CODES } from '../errors'

export const SCHEDULING_POLICIES = ['fifo', 'priority', 'slo_aware'] as const
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number]

/** sageLLM protocol priorities: CRITICAL=0 … BACKGROUND=4. */
export const PRIORITY = { CRITICAL: 0, HIGH: 1, NORMAL: 2, LOW: 3, BACKGROUND: 4 } as const

export interface Admission {
  /** Lower runs first under `priority`. */
  readonly priority: number
  /** Epoch ms by which the client wants an answer; earliest runs first under `slo_aware`. */
  readonly deadlineAt?: number
  /** Whether a slot freed on this engine is of use to this request. */
  readonly wants: (engineId: string) => boolean
  readonly signal: AbortSignal
  /** A shorter wait than the queue's own (the client's deadline). */
  readonly timeoutMs?: number
  /** Whether any engine could still serve it; checked when engines leave service. */
  readonly possible?: () => boolean
  /** The answer when none can any more. */
  readonly unavailable?: () => Error
}

interface Ticket extends Admission {
  readonly seq: number
  readonly wake: (engineId: string) => void
  readonly reject: (error: Error) => void
}

export class AdmissionQueue {
  private readonly tickets: Ticket[] = []
  private seq = 0

  constructor(
    private readonly policy: SchedulingPolicy,
    private readonly maxSize: number,
    private readonly timeoutMs: number,
  ) {}

  get depth(): number {
    return this.tickets.length
  }

  /** Resolves with the engine whose freed slot this request may use; rejects with 429 or ClientGone. */
  wait(admission: Admission): Promise<string> {
    // An abort listener added to an already-aborted signal never fires: such a ticket would hold a
    // queue place until the timeout and could take a wake-up meant for a live request.
    if (admission.signal.aborted) return Promise.reject(new ClientGone())
    if (this.tickets.length >= this.maxSize)
      return Promise.reject(exhausted(`the admission queue is full (${this.maxSize} requests waiting)`, this.timeoutMs))
    return new Promise((resolve, reject) => {
      const done = (error?: Error, engineId = '') => {
        clearTimeout(timer)
        admission.signal.removeEventListener('abort', onAbort)
        const i = this.tickets.indexOf(ticket)
        if (i >= 0) this.tickets.splice(i, 1)
        if (error) reject(error)
        else resolve(engineId)
      }
      const onAbort = () => done(new ClientGone())
      const waitMs = Math.max(1, Math.min(this.timeoutMs, admission.timeoutMs ?? Infinity))
      const timer = setTimeout(
        () => done(exhausted(`every engine serving the model stayed at capacity for ${waitMs} ms`, this.timeoutMs)),
        waitMs,
      )
      const ticket: Ticket = { ...admission, seq: this.seq++, wake: (engineId) => done(undefined, engineId), reject: (error) => done(error) }
      admission.signal.addEventListener('abort', onAbort, { once: true })
      this.tickets.push(ticket)
    })
  }

  /** A slot freed on `engineId`: wake the first waiting request (by policy) that can use it. True if one was woken. */
  release(engineId: string): boolean {
    if (this.tickets.length === 0) return false
    let best: Ticket | undefined
    for (const t of this.tickets) if (t.wants(engineId) && (!best || this.before(t, best))) best = t
    best?.wake(engineId)
    return best !== undefined
  }

  /** Engines left service: requests none of the remaining engines could serve get their answer now. */
  dropImpossible(): void {
    for (const t of [...this.tickets]) if (t.possible && !t.possible()) t.reject(t.unavailable?.() ?? new Error('no engine left'))
  }

  private before(a: Ticket, b: Ticket): boolean {
    if (this.policy === 'priority' && a.priority !== b.priority) return a.priority < b.priority
    if (this.policy === 'slo_aware') {
      const da = a.deadlineAt ?? Infinity
      const db = b.deadlineAt ?? Infinity
      if (da !== db) return da < db
    }
    return a.seq < b.seq
  }
}

function exhausted(why: string, timeoutMs: number): ApiError {
  return new ApiError(429, `Too many requests: ${why}; retry later`, 'rate_limit_error', ERROR_CODES.resourceExhausted, null, {
    'retry-after': String(Math.max(1, Math.ceil(timeoutMs / 1000 / 10))),
  })
}
