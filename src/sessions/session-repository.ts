// Sessions and their messages in SQLite: prepared statements, every write one immediate transaction,
// so an acknowledged turn is on disk and a failed import changes nothing. Rows in, rows out; the
// service shapes them for the API.
import type { Database } from 'bun:sqlite'

export interface SessionRow {
  readonly id: string
  readonly title: string
  readonly title_default: number
  readonly metadata: string
  readonly owner: string | null
  readonly created_at: string
  readonly last_active: string
  readonly message_count: number
  readonly seq_floor: number
}

export interface MessageRow {
  readonly session_id: string
  readonly seq: number
  readonly role: string
  readonly content: string
  readonly extra: string
  readonly timestamp: string
  readonly metadata: string
  readonly prompt_tokens: number | null
  readonly completion_tokens: number | null
}

/** A message to store; `seq` is assigned on append. */
export type NewMessage = Omit<MessageRow, 'session_id' | 'seq'>

export interface NewSession {
  readonly id: string
  readonly title: string
  readonly titleDefault: boolean
  readonly metadata: string
  readonly owner: string | null
  readonly createdAt: string
  readonly lastActive: string
}

export interface SessionStats {
  total_sessions: number
  total_messages: number
}

/** Whose sessions a call sees: undefined, every session; a string, only those that owner created. */
export type OwnerFilter = string | undefined

/** An imported session with its messages, ready to write. */
export interface ImportedSession {
  readonly session: NewSession
  readonly messages: readonly NewMessage[]
}

export class SessionRepository {
  private readonly q

  constructor(private readonly db: Database) {
    this.q = {
      get: db.prepare<SessionRow, [string]>('SELECT * FROM sessions WHERE id = ?'),
      insert: db.prepare<void, [string, string, number, string, string | null, string, string]>(
        'INSERT INTO sessions (id, title, title_default, metadata, owner, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      firstPage: db.prepare<SessionRow, [number]>('SELECT * FROM sessions ORDER BY last_active DESC, id DESC LIMIT ?'),
      // A row value comparison, so SQLite walks the (last_active, id) index from the cursor on.
      nextPage: db.prepare<SessionRow, [string, string, number]>(
        'SELECT * FROM sessions WHERE (last_active, id) < (?, ?) ORDER BY last_active DESC, id DESC LIMIT ?',
      ),
      lastUserBefore: db.prepare<{ seq: number | null }, [string, number]>(
        "SELECT max(seq) AS seq FROM messages WHERE session_id = ? AND seq < ? AND role IN ('user', 'system')",
      ),
      messagesFrom: db.prepare<MessageRow, [string, number]>('SELECT * FROM messages WHERE session_id = ? AND seq >= ? ORDER BY seq'),
      lastSystem: db.prepare<MessageRow, [string]>(
        "SELECT * FROM messages WHERE session_id = ? AND role IN ('system', 'developer') ORDER BY seq DESC LIMIT 1",
      ),
      raiseFloor: db.prepare<void, [string, string]>(
        'UPDATE sessions SET seq_floor = max(seq_floor, coalesce((SELECT max(seq) FROM messages WHERE session_id = ?), 0)) WHERE id = ?',
      ),
      messagesAfter: db.prepare<MessageRow, [string, number, number]>(
        'SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      lastMessages: db.prepare<MessageRow, [string, number]>(
        'SELECT * FROM (SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq',
      ),
      allMessages: db.prepare<MessageRow, [string]>('SELECT * FROM messages WHERE session_id = ? ORDER BY seq'),
      maxSeq: db.prepare<{ seq: number | null }, [string]>('SELECT max(seq) AS seq FROM messages WHERE session_id = ?'),
      insertMessage: db.prepare<void, [string, number, string, string, string, string, string, number | null, number | null]>(
        'INSERT INTO messages (session_id, seq, role, content, extra, timestamp, metadata, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      touch: db.prepare<void, [string, string]>('UPDATE sessions SET last_active = ? WHERE id = ?'),
      setTitle: db.prepare<void, [string, number, string]>('UPDATE sessions SET title = ?, title_default = ? WHERE id = ?'),
      deleteMessages: db.prepare<void, [string]>('DELETE FROM messages WHERE session_id = ?'),
      deleteSession: db.prepare<void, [string]>('DELETE FROM sessions WHERE id = ?'),
      idleBefore: db.prepare<{ id: string }, [string]>('SELECT id FROM sessions WHERE last_active < ?'),
      stats: db.prepare<SessionStats, []>('SELECT total_sessions, total_messages FROM session_stats WHERE id = 1'),
      allSessions: db.prepare<SessionRow, []>('SELECT * FROM sessions ORDER BY last_active DESC, id DESC'),
      // The same, for one owner's sessions (walking the sessions_by_owner index).
      firstPageOf: db.prepare<SessionRow, [string, number]>('SELECT * FROM sessions WHERE owner = ? ORDER BY last_active DESC, id DESC LIMIT ?'),
      nextPageOf: db.prepare<SessionRow, [string, string, string, number]>(
        'SELECT * FROM sessions WHERE owner = ? AND (last_active, id) < (?, ?) ORDER BY last_active DESC, id DESC LIMIT ?',
      ),
      statsOf: db.prepare<SessionStats, [string]>(
        'SELECT count(*) AS total_sessions, coalesce(sum(message_count), 0) AS total_messages FROM sessions WHERE owner = ?',
      ),
      allSessionsOf: db.prepare<SessionRow, [string]>('SELECT * FROM sessions WHERE owner = ? ORDER BY last_active DESC, id DESC'),
      idleBeforeOf: db.prepare<{ id: string }, [string, string]>('SELECT id FROM sessions WHERE owner = ? AND last_active < ?'),
    }
  }

  get(id: string): SessionRow | null {
    return this.q.get.get(id)
  }

  /** Creates the session; false when the id is taken. */
  create(s: NewSession): boolean {
    return this.db
      .transaction(() => {
        if (this.q.get.get(s.id)) return false
        this.insertSession(s)
        return true
      })
      .immediate()
  }

  /** Newest activity first; `after` is the last row of the previous page. */
  page(limit: number, after?: { lastActive: string; id: string }, owner?: OwnerFilter): SessionRow[] {
    if (owner !== undefined) return after ? this.q.nextPageOf.all(owner, after.lastActive, after.id, limit) : this.q.firstPageOf.all(owner, limit)
    return after ? this.q.nextPage.all(after.lastActive, after.id, limit) : this.q.firstPage.all(limit)
  }

  messages(sessionId: string, afterSeq: number, limit: number): MessageRow[] {
    return this.q.messagesAfter.all(sessionId, afterSeq, limit)
  }

  /**
   * The last `count` messages in order, reaching further back to the user (or system) message that
   * opens the exchange they belong to: what a turn sends the engine before its new ones.
   */
  lastMessages(sessionId: string, count: number): MessageRow[] {
    if (count <= 0) return []
    const rows = this.q.lastMessages.all(sessionId, count)
    const first = rows[0]
    if (!first || first.role === 'user' || first.role === 'system') return rows
    const opening = this.q.lastUserBefore.get(sessionId, first.seq)?.seq
    return opening === null || opening === undefined ? rows : this.q.messagesFrom.all(sessionId, opening)
  }

  /** The session's latest system (or developer) message, wherever it stands. */
  lastSystemMessage(sessionId: string): MessageRow | null {
    return this.q.lastSystem.get(sessionId)
  }

  /** Marks the session active now (a turn started on it), if it exists. */
  touch(id: string, now: string): void {
    this.q.touch.run(now, id)
  }

  allMessages(sessionId: string): MessageRow[] {
    return this.q.allMessages.all(sessionId)
  }

  /**
   * One turn, atomically: creates the session if it is missing (unless `create` is false: it was
   * deleted while the turn ran; then nothing is stored and the answer is false), appends the messages
   * after the last one, marks it active and, while its title is the default, sets `title`.
   */
  appendTurn(session: NewSession, messages: readonly NewMessage[], title: string | undefined, create = true, owner?: OwnerFilter): boolean {
    return this.db
      .transaction(() => {
        const existing = this.q.get.get(session.id)
        if (!existing && !create) return false
        // Deleted and taken by another key while the turn ran: not this turn's session any more.
        if (existing && owner !== undefined && existing.owner !== owner) return false
        if (!existing) this.insertSession(session)
        this.appendMessages(session.id, messages)
        this.q.touch.run(session.lastActive, session.id)
        if (title !== undefined && (existing ? existing.title_default === 1 : session.titleDefault)) this.q.setTitle.run(title, 0, session.id)
        return true
      })
      .immediate()
  }

  setTitle(id: string, title: string, now: string): boolean {
    return this.db
      .transaction(() => {
        if (!this.q.get.get(id)) return false
        this.q.setTitle.run(title, 0, id)
        this.q.touch.run(now, id)
        return true
      })
      .immediate()
  }

  clear(id: string, now: string): boolean {
    return this.db
      .transaction(() => {
        if (!this.q.get.get(id)) return false
        this.q.raiseFloor.run(id, id)
        this.q.deleteMessages.run(id)
        this.q.touch.run(now, id)
        return true
      })
      .immediate()
  }

  delete(id: string): boolean {
    return this.db
      .transaction(() => {
        if (!this.q.get.get(id)) return false
        this.remove(id)
        return true
      })
      .immediate()
  }

  /** Deletes sessions idle since before `cutoff`; their ids. */
  deleteIdleBefore(cutoff: string, owner?: OwnerFilter): string[] {
    return this.db
      .transaction(() => {
        const ids = (owner === undefined ? this.q.idleBefore.all(cutoff) : this.q.idleBeforeOf.all(owner, cutoff)).map((r) => r.id)
        for (const id of ids) this.remove(id)
        return ids
      })
      .immediate()
  }

  /**
   * All or nothing: existing ids are skipped, or replaced when `overwrite`; with an owner, ids of
   * sessions someone else owns are always skipped.
   */
  importAll(sessions: readonly ImportedSession[], overwrite: boolean, owner?: OwnerFilter): { imported: number; skipped: number } {
    return this.db
      .transaction(() => {
        let imported = 0
        let skipped = 0
        for (const { session, messages } of sessions) {
          const existing = this.q.get.get(session.id)
          if (existing) {
            if (!overwrite || (owner !== undefined && existing.owner !== owner)) {
              skipped++
              continue
            }
            this.remove(session.id)
          }
          this.insertSession(session)
          this.appendMessages(session.id, messages)
          imported++
        }
        return { imported, skipped }
      })
      .immediate()
  }

  all(owner?: OwnerFilter): SessionRow[] {
    return owner === undefined ? this.q.allSessions.all() : this.q.allSessionsOf.all(owner)
  }

  stats(owner?: OwnerFilter): SessionStats {
    return (owner === undefined ? this.q.stats.get() : this.q.statsOf.get(owner)) ?? { total_sessions: 0, total_messages: 0 }
  }

  private insertSession(s: NewSession): void {
    this.q.insert.run(s.id, s.title, s.titleDefault ? 1 : 0, s.metadata, s.owner, s.createdAt, s.lastActive)
  }

  private appendMessages(sessionId: string, messages: readonly NewMessage[]): void {
    let seq = Math.max(this.q.maxSeq.get(sessionId)?.seq ?? 0, this.q.get.get(sessionId)?.seq_floor ?? 0)
    for (const m of messages)
      this.q.insertMessage.run(sessionId, ++seq, m.role, m.content, m.extra, m.timestamp, m.metadata, m.prompt_tokens, m.completion_tokens)
  }

  private remove(id: string): void {
    // Messages first, explicitly: the counters' triggers see every row leave.
    this.q.deleteMessages.run(id)
    this.q.deleteSession.run(id)
  }
}
