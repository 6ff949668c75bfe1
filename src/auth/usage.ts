// Usage per key, model, engine and UTC day: counted in memory as requests end, written to SQLite in
// one transaction per flush (every few seconds, at shutdown, and before a usage report is read), so
// the request path never waits on a write.
import type { Database } from 'bun:sqlite'

export interface UsageEvent {
  readonly keyId: string
  readonly model: string
  readonly engineId: string
  readonly failed: boolean
  readonly inputTokens: number
  readonly outputTokens: number
}

export interface UsageRow {
  readonly key_id: string
  readonly model: string
  readonly engine_id: string
  readonly date: string
  readonly requests: number
  readonly errors: number
  readonly input_tokens: number
  readonly output_tokens: number
}

export interface UsageFilter {
  readonly keyId?: string
  readonly model?: string
  /** YYYY-MM-DD, inclusive. */
  readonly from?: string
  readonly to?: string
}

interface Pending {
  keyId: string
  model: string
  engineId: string
  day: string
  requests: number
  errors: number
  inputTokens: number
  outputTokens: number
}

export class UsageRecorder {
  private pending = new Map<string, Pending>()
  private readonly upsert
  private readonly select

  constructor(
    private readonly db: Database,
    /** The clock, in epoch ms. */
    private readonly now: () => number = Date.now,
  ) {
    this.upsert = db.prepare<void, [string, string, string, string, number, number, number, number]>(
      `INSERT INTO usage_daily (day, key_id, model, engine_id, requests, errors, input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (day, key_id, model, engine_id) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens`,
    )
    this.select = db.prepare<UsageRow, [string | null, string | null, string | null, string | null]>(
      `SELECT key_id, model, engine_id, day AS date, requests, errors, input_tokens, output_tokens FROM usage_daily
       WHERE (?1 IS NULL OR key_id = ?1) AND (?2 IS NULL OR model = ?2) AND (?3 IS NULL OR day >= ?3) AND (?4 IS NULL OR day <= ?4)
       ORDER BY day, key_id, model, engine_id`,
    )
  }

  /** The UTC day being counted, and when it ends (ms): the date string is built once a day, not per request. */
  private day = ''
  private dayStart = 0
  private dayEnd = 0

  private today(): string {
    const now = this.now()
    if (now < this.dayStart || now >= this.dayEnd) {
      this.dayStart = now - (now % 86_400_000)
      this.dayEnd = this.dayStart + 86_400_000
      this.day = new Date(this.dayStart).toISOString().slice(0, 10)
    }
    return this.day
  }

  /** The entry the last request counted into: the next one is very often for the same key, model and engine. */
  private last?: Pending

  record(event: UsageEvent): void {
    const day = this.today()
    let entry = this.last
    if (!entry || entry.day !== day || entry.keyId !== event.keyId || entry.model !== event.model || entry.engineId !== event.engineId) {
      const id = `${day}\u0000${event.keyId}\u0000${event.model}\u0000${event.engineId}`
      entry = this.pending.get(id)
      if (!entry) this.pending.set(id, (entry = { keyId: event.keyId, model: event.model, engineId: event.engineId, day, requests: 0, errors: 0, inputTokens: 0, outputTokens: 0 }))
      this.last = entry
    }
    entry.requests++
    if (event.failed) entry.errors++
    entry.inputTokens += event.inputTokens
    entry.outputTokens += event.outputTokens
  }

  /** Writes what was counted since the last flush. */
  flush(): void {
    if (!this.pending.size) return
    const batch = this.pending
    this.pending = new Map()
    this.last = undefined
    try {
      this.db.transaction(() => {
        for (const p of batch.values()) this.upsert.run(p.day, p.keyId, p.model, p.engineId, p.requests, p.errors, p.inputTokens, p.outputTokens)
      }).immediate()
    } catch (e) {
      // Nothing was written: keep the counts for the next flush.
      for (const [id, p] of batch) {
        const later = this.pending.get(id)
        if (later) {
          later.requests += p.requests
          later.errors += p.errors
          later.inputTokens += p.inputTokens
          later.outputTokens += p.outputTokens
        } else this.pending.set(id, p)
      }
      throw e
    }
  }

  /** Rows matching the filter, after writing what is pending. */
  report(filter: UsageFilter): UsageRow[] {
    this.flush()
    return this.select.all(filter.keyId ?? null, filter.model ?? null, filter.from ?? null, filter.to ?? null)
  }
}
