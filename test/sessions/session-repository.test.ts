// SessionRepository against a migrated in-memory SQLite database: turns that create their session,
// seq order, title only while default, page order with ties on last_active, importAll all-or-nothing
// when a row fails mid-way, and the trigger-kept totals equal to the rows that exist.
import { afterEach, beforeEach, expect, test } from 'bun:test'
import type { Database } from 'bun:sqlite'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'
import { SessionRepository, type NewMessage, type NewSession } from '../../src/sessions/session-repository'

let db: Database
let repo: SessionRepository

beforeEach(() => {
  db = openDatabase(':memory:')
  migrate(db)
  repo = new SessionRepository(db)
})
afterEach(() => db.close())

const T0 = '2025-01-01T00:00:00.000Z'

function newSession(id: string, at = T0, title = 'New Chat'): NewSession {
  return { id, title, titleDefault: title === 'New Chat', metadata: '{}', owner: null, createdAt: at, lastActive: at }
}

function message(role: string, text: string, at = T0): NewMessage {
  return { role, content: JSON.stringify(text), extra: '{}', timestamp: at, metadata: '{}', prompt_tokens: null, completion_tokens: null }
}

/** The totals counted from the tables themselves. */
function counted() {
  return db
    .query<{ total_sessions: number; total_messages: number }, []>(
      'SELECT (SELECT count(*) FROM sessions) AS total_sessions, (SELECT count(*) FROM messages) AS total_messages',
    )
    .get()!
}

test('appendTurn creates a missing session with its messages and the given title', () => {
  repo.appendTurn(newSession('s', '2025-01-01T01:00:00.000Z'), [message('user', 'hi'), message('assistant', 'hello')], 'hi')
  expect(repo.get('s')).toMatchObject({ id: 's', title: 'hi', title_default: 0, last_active: '2025-01-01T01:00:00.000Z', message_count: 2 })
  expect(repo.allMessages('s').map((m) => [m.seq, m.role])).toEqual([
    [1, 'user'],
    [2, 'assistant'],
  ])
})

test('appendTurn continues seq after the stored messages and moves last_active', () => {
  repo.appendTurn(newSession('s'), [message('user', 'a'), message('assistant', 'b')], undefined)
  repo.appendTurn(newSession('s', '2025-01-02T00:00:00.000Z'), [message('user', 'c'), message('assistant', 'd')], undefined)
  expect(repo.allMessages('s').map((m) => [m.seq, JSON.parse(m.content)])).toEqual([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
    [4, 'd'],
  ])
  expect(repo.get('s')).toMatchObject({ created_at: T0, last_active: '2025-01-02T00:00:00.000Z', message_count: 4 })
})

test('appendTurn sets the title only while it is the default', () => {
  repo.create(newSession('named', T0, 'Chosen'))
  repo.appendTurn(newSession('named'), [message('user', 'x')], 'From message')
  expect(repo.get('named')!.title).toBe('Chosen')
  repo.create(newSession('plain'))
  repo.appendTurn(newSession('plain'), [message('user', 'x')], 'First')
  repo.appendTurn(newSession('plain'), [message('user', 'y')], 'Second')
  expect(repo.get('plain')!.title).toBe('First')
})

test('messages() pages by seq and lastMessages() returns the newest n in order', () => {
  repo.appendTurn(newSession('s'), ['a', 'b', 'c', 'd', 'e'].map((t) => message('user', t)), undefined)
  expect(repo.messages('s', 2, 2).map((m) => m.seq)).toEqual([3, 4])
  expect(repo.lastMessages('s', 2).map((m) => m.seq)).toEqual([4, 5])
  expect(repo.lastMessages('s', 0)).toEqual([])
})

test('create refuses an existing id and leaves it unchanged', () => {
  expect(repo.create(newSession('dup', T0, 'One'))).toBe(true)
  expect(repo.create(newSession('dup', T0, 'Two'))).toBe(false)
  expect(repo.get('dup')!.title).toBe('One')
})

test('page orders by last_active desc, then id desc when last_active ties, and resumes after a row', () => {
  for (const id of ['b', 'd', 'a', 'c']) repo.create(newSession(id, '2025-02-02T00:00:00.000Z'))
  repo.create(newSession('newest', '2025-03-03T00:00:00.000Z'))
  repo.create(newSession('oldest', '2025-01-01T00:00:00.000Z'))
  expect(repo.page(10).map((r) => r.id)).toEqual(['newest', 'd', 'c', 'b', 'a', 'oldest'])
  const first = repo.page(3)
  const last = first.at(-1)!
  expect(first.map((r) => r.id)).toEqual(['newest', 'd', 'c'])
  expect(repo.page(10, { lastActive: last.last_active, id: last.id }).map((r) => r.id)).toEqual(['b', 'a', 'oldest'])
})

test('importAll writes nothing when a later row fails a constraint', () => {
  repo.create(newSession('existing', T0, 'Before'))
  repo.appendTurn(newSession('existing'), [message('user', 'kept')], undefined)
  const before = counted()
  const broken = { ...message('user', 'x'), role: null as unknown as string }
  expect(() =>
    repo.importAll(
      [
        { session: newSession('first'), messages: [message('user', 'fine')] },
        { session: newSession('existing', T0, 'After'), messages: [] },
        { session: newSession('second'), messages: [message('user', 'ok'), broken] },
      ],
      true,
    ),
  ).toThrow(/NOT NULL/)
  expect(repo.get('first')).toBeNull()
  expect(repo.get('second')).toBeNull()
  expect(repo.get('existing')!.title).toBe('Before')
  expect(repo.allMessages('existing').map((m) => JSON.parse(m.content))).toEqual(['kept'])
  expect(counted()).toEqual(before)
  expect(repo.stats()).toEqual(before)
})

test('importAll skips existing ids, or replaces them with overwrite', () => {
  repo.appendTurn(newSession('s'), [message('user', 'a'), message('user', 'b')], undefined)
  expect(repo.importAll([{ session: newSession('s', T0, 'New'), messages: [] }, { session: newSession('t'), messages: [] }], false)).toEqual({ imported: 1, skipped: 1 })
  expect(repo.allMessages('s')).toHaveLength(2)
  expect(repo.importAll([{ session: newSession('s', T0, 'New'), messages: [message('user', 'z')] }], true)).toEqual({ imported: 1, skipped: 0 })
  expect(repo.get('s')).toMatchObject({ title: 'New', message_count: 1 })
})

test('deleteIdleBefore removes exactly the sessions idle since before the cutoff, with their messages', () => {
  repo.appendTurn(newSession('old', '2025-01-01T00:00:00.000Z'), [message('user', 'x')], undefined)
  repo.create(newSession('edge', '2025-01-02T00:00:00.000Z'))
  repo.create(newSession('new', '2025-01-03T00:00:00.000Z'))
  expect(repo.deleteIdleBefore('2025-01-02T00:00:00.000Z')).toEqual(['old'])
  expect(repo.all().map((r) => r.id)).toEqual(['new', 'edge'])
  expect(counted()).toEqual({ total_sessions: 2, total_messages: 0 })
})

test('stats equal the rows that exist through create, turns, clear, delete, import and cleanup', () => {
  const check = () => expect(repo.stats()).toEqual(counted())
  check()
  repo.create(newSession('a'))
  repo.appendTurn(newSession('a'), [message('user', '1'), message('assistant', '2')], undefined)
  repo.appendTurn(newSession('b'), [message('user', '3')], undefined)
  check()
  expect(repo.stats()).toEqual({ total_sessions: 2, total_messages: 3 })
  repo.clear('a', T0)
  check()
  repo.importAll([{ session: newSession('b'), messages: [message('user', 'x'), message('user', 'y')] }, { session: newSession('c'), messages: [message('user', 'z')] }], true)
  check()
  expect(repo.stats()).toEqual({ total_sessions: 3, total_messages: 3 })
  repo.delete('c')
  repo.deleteIdleBefore('2030-01-01T00:00:00.000Z')
  check()
  expect(repo.stats()).toEqual({ total_sessions: 0, total_messages: 0 })
})

test('message_count follows each session exactly', () => {
  repo.appendTurn(newSession('a'), [message('user', '1'), message('assistant', '2')], undefined)
  repo.appendTurn(newSession('b'), [message('user', '3')], undefined)
  repo.clear('a', T0)
  repo.appendTurn(newSession('a'), [message('user', '4')], undefined)
  expect(repo.all().map((r) => [r.id, r.message_count]).sort()).toEqual([
    ['a', 1],
    ['b', 1],
  ])
})

test('delete, clear and setTitle report false for an unknown id and change nothing', () => {
  repo.create(newSession('real'))
  expect(repo.delete('ghost')).toBe(false)
  expect(repo.clear('ghost', T0)).toBe(false)
  expect(repo.setTitle('ghost', 'x', T0)).toBe(false)
  expect(repo.stats()).toEqual({ total_sessions: 1, total_messages: 0 })
})
