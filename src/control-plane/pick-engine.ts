// The routing decision: which of the engines able to serve a request takes it. Today: the fewest
// requests in flight from this gateway, ties broken round-robin, skipping engines already tried
// for this request. The full strategy set plugs in here.
import type { Engine } from './engine-registry'

export interface RouteRequest {
  readonly model: string
}

export class EnginePicker {
  private turn = 0

  pickEngine(candidates: readonly Engine[], _request: RouteRequest, tried: ReadonlySet<Engine>): Engine | undefined {
    const n = candidates.length
    if (n === 0) return undefined
    const start = this.turn++ % n
    let best: Engine | undefined
    for (let i = 0; i < n; i++) {
      const engine = candidates[(start + i) % n]!
      if (tried.has(engine)) continue
      if (!best || engine.activeRequests < best.activeRequests) best = engine
    }
    return best
  }
}
