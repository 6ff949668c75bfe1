// Per-key limits: requests per minute, tokens per minute and concurrent requests.
//
// Algorithm: a sliding window of 61 one-second buckets per key and limit. A request is admitted when
// what the buckets of the last 61 seconds hold, plus what it asks for, stays within the limit; a
// bucket leaves the window 61 s after its second began, so no 60-second span ever holds more than
// the limit (a conservative window, never an over-admitting one). Tokens are reserved at admission
// (prompt estimate + max_tokens) and settled with the real usage when the answer ends: what was
// reserved and not used goes back into the bucket the reservation went to (if still in the window),
// usage beyond the reservation is charged to the second the answer ended in.
// Admission is one synchronous step (check every limit, then take from all): with one event loop,
// concurrent requests cannot both see the same last free slot.
import { ApiError, ERROR_CODES } from '../errors'

const WINDOW_SECONDS = 61

export interface KeyLimits {
  readonly rpm: number | null
  readonly tpm: number | null
  readonly maxConcurrency: number | null
}

/** Counts per one-second bucket over the last WINDOW_SECONDS seconds. */
export class SlidingWindow {
  private readonly amounts = new Float64Array(WINDOW_SECONDS)
  private readonly seconds = new Float64Array(WINDOW_SECONDS).fill(-Infinity)

  /** What the window holds at `nowMs`. */
  used(nowMs: number): number {
    const now = Math.floor(nowMs / 1000)
    let sum = 0
    for (let i = 0; i < WINDOW_SECONDS; i++) if (now - this.seconds[i]! < WINDOW_SECONDS) sum += this.amounts[i]!
    return sum
  }

  /** Adds to the current second's bucket; returns that second, for a later adjust. */
  add(nowMs: number, amount: number): number {
    const now = Math.floor(nowMs / 1000)
    const slot = now % WINDOW_SECONDS
    if (this.seconds[slot] !== now) {
      this.seconds[slot] = now
      this.amounts[slot] = 0
    }
    this.amounts[slot]! += amount
    return now
  }

  /** Changes what second `second` holds by `delta`, if that second is still in the window. */
  adjust(second: number, delta: number): void {
    const slot = second % WINDOW_SECONDS
    if (this.seconds[slot] === second) this.amounts[slot] = Math.max(0, this.amounts[slot]! + delta)
  }

  /**
   * Milliseconds until the window holds at most `limit - need` (0 when it already does): the time
   * a request asking for `need` must wait. With need = limit, until it is empty.
   */
  msUntilRoom(nowMs: number, limit: number, need: number): number {
    let excess = this.used(nowMs) + need - limit
    if (excess <= 0) return 0
    const now = Math.floor(nowMs / 1000)
    const live: [second: number, amount: number][] = []
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const second = this.seconds[i]!
      if (now - second < WINDOW_SECONDS && this.amounts[i]! > 0) live.push([second, this.amounts[i]!])
    }
    live.sort((a, b) => a[0] - b[0])
    for (const [second, amount] of live) {
      excess -= amount
      if (excess <= 0) return (second + WINDOW_SECONDS) * 1000 - nowMs
    }
    return WINDOW_SECONDS * 1000
  }
}

class KeyState {
  readonly requests = new SlidingWindow()
  readonly tokens = new SlidingWindow()
  inFlight = 0
}

/** One admitted request: settle it once, when its answer is over. */
export interface Admission {
  /** The x-ratelimit-* headers of this request's answers. */
  readonly headers: Record<string, string>
  settle(actualTokens: number | undefined): void
}

export class RateLimiter {
  private readonly states = new Map<string, KeyState>()

  constructor(private readonly clock: () => number = Date.now) {}

  /** Admits a request of `keyId` asking for `tokens`, or throws 429 naming the limit it would break. */
  admit(keyId: string, limits: KeyLimits, tokens: number): Admission {
    const now = this.clock()
    let state = this.states.get(keyId)
    if (!state) this.states.set(keyId, (state = new KeyState()))
    const { rpm, tpm, maxConcurrency } = limits
    // Larger than a whole minute's budget: no wait makes it fit, so it is said first, with no
    // Retry-After, and the SDKs are told not to retry it.
    if (tpm !== null && tokens > tpm)
      throw tooMany(`this request may use up to ${tokens} tokens (prompt estimate + max_tokens), more than this key's ${tpm} tokens per minute; lower max_tokens or shorten the prompt`, undefined, {
        ...headersOf(state, limits, now),
        'x-should-retry': 'false',
      })
    if (maxConcurrency !== null && state.inFlight >= maxConcurrency)
      throw tooMany(`this key allows ${maxConcurrency} concurrent request${maxConcurrency === 1 ? '' : 's'} and has ${state.inFlight} in flight`, 1, headersOf(state, limits, now))
    if (rpm !== null && state.requests.used(now) + 1 > rpm) {
      const wait = state.requests.msUntilRoom(now, rpm, 1)
      throw tooMany(`this key allows ${rpm} requests per minute; try again in ${duration(wait)}`, wait / 1000, headersOf(state, limits, now))
    }
    if (tpm !== null && state.tokens.used(now) + tokens > tpm) {
      const wait = state.tokens.msUntilRoom(now, tpm, tokens)
      throw tooMany(`this key allows ${tpm} tokens per minute and this request reserves ${tokens}; try again in ${duration(wait)}`, wait / 1000, headersOf(state, limits, now))
    }
    state.requests.add(now, 1)
    const second = state.tokens.add(now, tokens)
    state.inFlight++
    const held = state
    let settled = false
    return {
      headers: headersOf(state, limits, now),
      settle: (actual) => {
        if (settled) return
        settled = true
        held.inFlight--
        if (actual === undefined || actual === tokens) return
        // Unused reservation goes back where it was taken; usage beyond it is charged now, so a
        // long stream's output counts in the window it ends in even after its admission second left.
        if (actual < tokens) held.tokens.adjust(second, actual - tokens)
        else held.tokens.add(this.clock(), actual - tokens)
      },
    }
  }

  /** Forgets a deleted key's counters. */
  forget(keyId: string): void {
    this.states.delete(keyId)
  }
}

function headersOf(state: KeyState, limits: KeyLimits, now: number): Record<string, string> {
  const headers: Record<string, string> = {}
  if (limits.rpm !== null) {
    headers['x-ratelimit-limit-requests'] = String(limits.rpm)
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - state.requests.used(now)))
    headers['x-ratelimit-reset-requests'] = duration(state.requests.msUntilRoom(now, limits.rpm, limits.rpm))
  }
  if (limits.tpm !== null) {
    headers['x-ratelimit-limit-tokens'] = String(limits.tpm)
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(limits.tpm - state.tokens.used(now))))
    headers['x-ratelimit-reset-tokens'] = duration(state.tokens.msUntilRoom(now, limits.tpm, limits.tpm))
  }
  return headers
}

/** A 429; `retryAfterSeconds` undefined when no wait helps (then no Retry-After). */
function tooMany(why: string, retryAfterSeconds: number | undefined, headers: Record<string, string>): ApiError {
  const all = retryAfterSeconds === undefined ? headers : { ...headers, 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }
  return new ApiError(429, `Rate limit reached: ${why}`, 'rate_limit_error', ERROR_CODES.rateLimitExceeded, null, all)
}

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `250ms`, `1s`, `6m0s`. */
export function duration(ms: number): string {
  if (ms <= 0) return '0s'
  if (ms < 1000) return `${Math.ceil(ms)}ms`
  const seconds = Math.ceil(ms / 1000)
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`
}
