// The embedded, append-only list of schema migrations. Each file of migrations/ is imported as text
// so the compiled binary carries them; test/db/migrations.test.ts checks this list matches the folder.
import m0001 from '../../migrations/0001_schema_version.sql' with { type: 'text' }
import m0002 from '../../migrations/0002_engines.sql' with { type: 'text' }
import m0003 from '../../migrations/0003_sessions.sql' with { type: 'text' }
import m0004 from '../../migrations/0004_session_seq_floor.sql' with { type: 'text' }
import m0005 from '../../migrations/0005_api_keys_usage.sql' with { type: 'text' }

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '0001_schema_version', sql: m0001 },
  { version: 2, name: '0002_engines', sql: m0002 },
  { version: 3, name: '0003_sessions', sql: m0003 },
  { version: 4, name: '0004_session_seq_floor', sql: m0004 },
  { version: 5, name: '0005_api_keys_usage', sql: m0005 },
]
