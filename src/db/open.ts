// Opens the gateway's SQLite database with the pragmas every connection needs:
// WAL so readers never block the writer, a busy timeout instead of SQLITE_BUSY errors,
// and synchronous=NORMAL, which under WAL still never corrupts the file on a crash.
import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export function openDatabase(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec('PRAGMA foreign_keys = ON')
  return db
}
