// Virtual keys in SQLite. The secret's SHA-256 digest (hex) is the only form of it ever written.
import type { Database } from 'bun:sqlite'
import type { VirtualKey } from './api-keys'

interface KeyRow {
  id: string
  name: string
  key_hash: string
  prefix: string
  models: string | null
  rpm: number | null
  tpm: number | null
  max_concurrency: number | null
  expires_at: string | null
  revoked: number
  created_at: string
  last_used_at: string | null
}

export interface StoredKey {
  readonly key: VirtualKey
  /** Hex SHA-256 of the secret. */
  readonly hash: string
}

export class KeyRepository {
  private readonly q

  constructor(private readonly db: Database) {
    this.q = {
      all: db.prepare<KeyRow, []>('SELECT * FROM api_keys ORDER BY created_at, id'),
      insert: db.prepare<void, [string, string, string, string, string | null, number | null, number | null, number | null, string | null, string]>(
        'INSERT INTO api_keys (id, name, key_hash, prefix, models, rpm, tpm, max_concurrency, expires_at, revoked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)',
      ),
      update: db.prepare<void, [string, string | null, number | null, number | null, number | null, string | null, number, string]>(
        'UPDATE api_keys SET name = ?, models = ?, rpm = ?, tpm = ?, max_concurrency = ?, expires_at = ?, revoked = ? WHERE id = ?',
      ),
      delete: db.prepare<void, [string]>('DELETE FROM api_keys WHERE id = ?'),
      touch: db.prepare<void, [string, string]>('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
      issued: db.prepare<{ keys_issued: number }, []>('SELECT keys_issued FROM auth_state WHERE id = 1'),
      markIssued: db.prepare<void, []>('UPDATE auth_state SET keys_issued = 1 WHERE id = 1'),
    }
  }

  all(): StoredKey[] {
    return this.q.all.all().map((row) => ({ key: fromRow(row), hash: row.key_hash }))
  }

  /** Stores a new key and notes, for good, that keys have been issued. */
  insert(key: VirtualKey, hash: string): void {
    this.db.transaction(() => {
      this.q.insert.run(key.id, key.name, hash, key.prefix, modelsText(key.models), key.rpm, key.tpm, key.maxConcurrency, key.expiresAt, key.createdAt)
      this.q.markIssued.run()
    }).immediate()
  }

  /** Whether a virtual key was ever issued on this database. */
  keysIssued(): boolean {
    return this.q.issued.get()?.keys_issued === 1
  }

  update(key: VirtualKey): void {
    this.q.update.run(key.name, modelsText(key.models), key.rpm, key.tpm, key.maxConcurrency, key.expiresAt, key.revoked ? 1 : 0, key.id)
  }

  delete(id: string): void {
    this.q.delete.run(id)
  }

  /** Writes last-used times gathered since the previous call, in one transaction. */
  touchAll(lastUsed: ReadonlyMap<string, string>): void {
    if (!lastUsed.size) return
    this.db.transaction(() => {
      for (const [id, at] of lastUsed) this.q.touch.run(at, id)
    }).immediate()
  }
}

function modelsText(models: readonly string[] | null): string | null {
  return models === null ? null : JSON.stringify(models)
}

function fromRow(row: KeyRow): VirtualKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rpm: row.rpm,
    tpm: row.tpm,
    maxConcurrency: row.max_concurrency,
    expiresAt: row.expires_at,
    revoked: row.revoked === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  }
}
