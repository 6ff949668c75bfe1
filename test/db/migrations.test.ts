import { expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { migrate } from '../../src/db/migrate'
import { MIGRATIONS } from '../../src/db/migrations'
import { openDatabase } from '../../src/db/open'

test('the embedded migration list matches migrations/ file for file, in order', async () => {
  const dir = join(import.meta.dir, '../../migrations')
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
  expect(MIGRATIONS.map((m) => `${m.name}.sql`)).toEqual(files)
  MIGRATIONS.forEach((m, i) => expect(m.version).toBe(i + 1))
  for (const m of MIGRATIONS) expect(m.sql).toBe(await Bun.file(join(dir, `${m.name}.sql`)).text())
})

test('migrate applies everything once and is a no-op the second time', () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'gw-db-')), 'g.db'))
  const first = migrate(db)
  expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version))
  expect(migrate(db).applied).toEqual([])
  expect(db.query('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: MIGRATIONS.length })
  db.close()
})

test('a file database is opened in WAL mode with a busy timeout', () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'gw-db-')), 'nested', 'g.db'))
  expect(db.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
  expect(db.query('PRAGMA busy_timeout').get()).toEqual({ timeout: 5000 })
  db.close()
})

test('a database from a newer gateway is refused rather than misread', () => {
  const db = openDatabase(':memory:')
  migrate(db)
  db.run("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
  expect(() => migrate(db)).toThrow(/newer than this gateway knows/)
})

test('a failing migration leaves no trace of itself', () => {
  const db = openDatabase(':memory:')
  const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE t (x INTEGER); SELECT * FROM missing_table;' }]
  expect(() => migrate(db, broken)).toThrow()
  expect(db.query("SELECT name FROM sqlite_master WHERE name = 't'").all()).toEqual([])
  expect(db.query('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: MIGRATIONS.length })
})
