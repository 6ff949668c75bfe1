// Engines registered through the management API, persisted so they come back after a restart.
import type { Database } from 'bun:sqlite'

export interface StoredEngine {
  readonly engine_id: string
  readonly base_url: string
  readonly model_id: string | null
  readonly engine_kind: string
  readonly api: string
  readonly weight: number
  readonly max_concurrency: number | null
  readonly metadata: Record<string, unknown>
  readonly created_at: string
}

type Row = Omit<StoredEngine, 'metadata'> & { metadata: string }

export class EngineRepository {
  private readonly insert
  private readonly update
  private readonly remove
  private readonly all

  constructor(private readonly db: Database) {
    this.insert = db.prepare<void, [string, string, string | null, string, string, number, number | null, string, string]>(
      'INSERT INTO engines (engine_id, base_url, model_id, engine_kind, api, weight, max_concurrency, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    )
    this.update = db.prepare<void, [number, number | null, string, string]>(
      'UPDATE engines SET weight = ?, max_concurrency = ?, metadata = ? WHERE engine_id = ?',
    )
    this.remove = db.prepare<void, [string]>('DELETE FROM engines WHERE engine_id = ?')
    this.all = db.prepare<Row, []>('SELECT * FROM engines ORDER BY created_at, engine_id')
  }

  list(): StoredEngine[] {
    return this.all.all().map((row) => ({ ...row, metadata: JSON.parse(row.metadata) as Record<string, unknown> }))
  }

  add(e: StoredEngine): void {
    this.db
      .transaction(() =>
        this.insert.run(e.engine_id, e.base_url, e.model_id, e.engine_kind, e.api, e.weight, e.max_concurrency, JSON.stringify(e.metadata), e.created_at),
      )
      .immediate()
  }

  save(id: string, fields: Pick<StoredEngine, 'weight' | 'max_concurrency' | 'metadata'>): void {
    this.db.transaction(() => this.update.run(fields.weight, fields.max_concurrency, JSON.stringify(fields.metadata), id)).immediate()
  }

  delete(id: string): void {
    this.db.transaction(() => this.remove.run(id)).immediate()
  }
}
