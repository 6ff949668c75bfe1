// Routing strategies: given the engines able to take a request right now, choose one.
// Pure in-memory decisions (a few microseconds with 64 engines; see bench/routing.bench.ts).
// Load = requests in flight from this gateway divided by the engine's weight.

/** What a strategy needs to know about an engine. */
export interface Routable {
  readonly id: string
  readonly weight: number
  readonly activeRequests: number
}

export const ROUTING_STRATEGIES = ['load_balanced', 'round_robin', 'random', 'affinity', 'locality'] as const
export type RoutingStrategyName = (typeof ROUTING_STRATEGIES)[number]

export interface RouteRequest {
  readonly model: string
  /** Session, `x-session-affinity` header or `user`: the affinity strategy's key. */
  readonly affinityKey?: string
  /** The prompt's leading prefix, computed only when the locality strategy asks for it. */
  prefix?: (limit: number) => string
}

export interface RoutingStrategy {
  readonly name: RoutingStrategyName
  pick<E extends Routable>(candidates: readonly E[], request: RouteRequest): E | undefined
}

const load = (e: Routable) => e.activeRequests / (e.weight > 0 ? e.weight : 1)

/** Fewest in-flight requests per unit of weight; ties broken round-robin among the tied engines. */
export class LoadBalanced implements RoutingStrategy {
  readonly name = 'load_balanced'
  private turn = 0

  pick<E extends Routable>(candidates: readonly E[]): E | undefined {
    const n = candidates.length
    if (n <= 1) return candidates[0]
    let least = Infinity
    let ties = 0
    for (let i = 0; i < n; i++) {
      const l = load(candidates[i]!)
      if (l < least) {
        least = l
        ties = 1
      } else if (l === least) ties++
    }
    // The k-th of the tied engines, k rotating: each tied engine gets its turn, whichever are busy.
    let k = this.turn++ % ties
    for (let i = 0; i < n; i++) {
      const e = candidates[i]!
      if (load(e) === least && k-- === 0) return e
    }
    return candidates[0]
  }
}

/** Smooth weighted round-robin (nginx's): weight 3 vs 1 gives a a b a, not a a a b. */
export class RoundRobin implements RoutingStrategy {
  readonly name = 'round_robin'
  private current = new Map<string, number>()

  pick<E extends Routable>(candidates: readonly E[]): E | undefined {
    if (candidates.length <= 1) return candidates[0]
    let total = 0
    let best: E | undefined
    let bestScore = -Infinity
    for (const e of candidates) {
      const w = e.weight > 0 ? e.weight : 1
      total += w
      const score = (this.current.get(e.id) ?? 0) + w
      this.current.set(e.id, score)
      if (score > bestScore) {
        best = e
        bestScore = score
      }
    }
    this.current.set(best!.id, bestScore - total)
    if (this.current.size > candidates.length * 4) this.current.clear()
    return best
  }
}

/** Weighted random choice. */
export class RandomChoice implements RoutingStrategy {
  readonly name = 'random'

  constructor(private readonly random: () => number = Math.random) {}

  pick<E extends Routable>(candidates: readonly E[]): E | undefined {
    if (candidates.length <= 1) return candidates[0]
    const total = candidates.reduce((sum, e) => sum + (e.weight > 0 ? e.weight : 1), 0)
    let r = this.random() * total
    for (const e of candidates) {
      r -= e.weight > 0 ? e.weight : 1
      if (r < 0) return e
    }
    return candidates[candidates.length - 1]
  }
}

/** 32-bit FNV-1a followed by a murmur3 finaliser, so nearby keys land far apart on the ring. */
export function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const VIRTUAL_NODES = 160

/**
 * Consistent hashing: the same key goes to the same engine while it is a candidate; when an engine
 * leaves, only its keys move (to their next engine on the ring). Requests without a key are load-balanced.
 */
export class Affinity implements RoutingStrategy {
  readonly name = 'affinity'
  private readonly fallback = new LoadBalanced()
  /** Every engine placed on the ring, with the weight it was placed with. */
  private readonly placed = new Map<string, number>()
  private points = new Uint32Array(0)
  private owners: string[] = []

  pick<E extends Routable>(candidates: readonly E[], request: RouteRequest): E | undefined {
    if (!request.affinityKey || candidates.length <= 1) return this.fallback.pick(candidates)
    for (const e of candidates) {
      if (this.placed.get(e.id) !== e.weight) {
        this.place(candidates)
        break
      }
    }
    const h = hash32(request.affinityKey)
    let lo = 0
    let hi = this.points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.points[mid]! < h) lo = mid + 1
      else hi = mid
    }
    // Walk clockwise to the first point owned by a current candidate: an engine that is down,
    // busy or already tried hands its keys to its ring successor and nobody else's keys move.
    for (let step = 0; step < this.owners.length; step++) {
      const owner = this.owners[(lo + step) % this.owners.length]
      const engine = candidates.find((e) => e.id === owner)
      if (engine) return engine
    }
    return this.fallback.pick(candidates)
  }

  private place(candidates: readonly Routable[]): void {
    // Engines that left long ago are forgotten once they would outnumber the live ones.
    if (this.placed.size > candidates.length * 2 + 16) this.placed.clear()
    for (const e of candidates) this.placed.set(e.id, e.weight)
    const nodes: [number, string][] = []
    for (const [id, weight] of this.placed) {
      const copies = Math.max(1, Math.round(VIRTUAL_NODES * (weight > 0 ? weight : 1)))
      for (let i = 0; i < copies; i++) nodes.push([hash32(`${id}#${i}`), id])
    }
    nodes.sort((a, b) => a[0] - b[0])
    this.points = Uint32Array.from(nodes, (n) => n[0])
    this.owners = nodes.map((n) => n[1])
  }
}

export interface LocalityOptions {
  /** How many leading characters of the rendered prompt make its prefix key. */
  readonly prefixChars: number
  /** How many prefixes are remembered (least recently used are forgotten). */
  readonly maxEntries: number
  /** The remembered engine is skipped when its load exceeds the least-loaded engine's by at least this much… */
  readonly imbalanceAbs: number
  /** …and by at least this factor. */
  readonly imbalanceRel: number
}

/**
 * Prefix-cache locality: a prompt whose leading prefix was served before goes to the engine that
 * served it most recently (its KV cache likely still holds it), unless that engine is overloaded
 * compared with the least-loaded one; then the least-loaded engine takes it and becomes the prefix's home.
 */
export class Locality implements RoutingStrategy {
  readonly name = 'locality'
  private readonly fallback = new LoadBalanced()
  private readonly homes = new Map<number, string>()

  constructor(private readonly options: LocalityOptions) {}

  get size(): number {
    return this.homes.size
  }

  pick<E extends Routable>(candidates: readonly E[], request: RouteRequest): E | undefined {
    if (!request.prefix || candidates.length === 0) return this.fallback.pick(candidates)
    const key = hash32(request.prefix(this.options.prefixChars).slice(0, this.options.prefixChars))
    const homeId = this.homes.get(key)
    const least = this.fallback.pick(candidates)!
    let chosen = least
    if (homeId !== undefined) {
      const home = candidates.find((e) => e.id === homeId)
      if (home && !this.overloaded(home, least)) chosen = home
      this.homes.delete(key)
    }
    this.homes.set(key, chosen.id)
    if (this.homes.size > this.options.maxEntries) this.homes.delete(this.homes.keys().next().value!)
    return chosen
  }

  private overloaded(home: Routable, least: Routable): boolean {
    const h = load(home)
    const l = load(least)
    return h - l >= this.options.imbalanceAbs && h >= l * this.options.imbalanceRel
  }
}

export function createStrategy(name: RoutingStrategyName, locality: LocalityOptions): RoutingStrategy {
  switch (name) {
    case 'load_balanced':
      return new LoadBalanced()
    case 'round_robin':
      return new RoundRobin()
    case 'random':
      return new RandomChoice()
    case 'affinity':
      return new Affinity()
    case 'locality':
      return new Locality(locality)
  }
}
