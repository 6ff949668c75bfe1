// Applies the embedded migrations that a database has not seen yet, each in its own
// immediate transaction together with its ledger row, so a crash never half-applies one.
import type { Database } from 'bun:sqlite'
import { MIGRATIONS, type Migration } from './migrations'

export interface MigrationResult {
  readonly applied: readonly number[]
  readonly version: number
}

export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, now: () => Date = () => new Date()): MigrationResult {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)')
  const done = new Set(db.query<{ version: number }, []>('SELECT version FROM schema_migrations').all().map((r) => r.version))
  const newest = Math.max(0, ...done)
  const known = Math.max(0, ...migrations.map((m) => m.version))
  if (newest > known)
    throw new Error(`database schema version ${newest} is newer than this gateway knows (${known}); upgrade the gateway`)
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  const applied: number[] = []
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.version, m.name, now().toISOString())
    }).immediate()
    applied.push(m.version)
  }
  return { applied, version: Math.max(newest, ...applied) }
}
