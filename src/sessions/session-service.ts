// Server-side conversations: the /sessions API's operations (create, read, page, title, clear,
// delete, export, import, cleanup), the background sweep of idle sessions, and the start of a chat
// turn that uses a session. No Elysia here; SQL lives in the repository.
import { ApiError, ERROR_CODES, invalidRequest } from '../errors'
import type { Logger } from '../telemetry/logger'
import { parseImport } from './session-import'
import type { NewMessage, OwnerFilter, SessionRepository, SessionRow, SessionStats } from './session-repository'
import { DEFAULT_TITLE, decodeCursor, encodeCursor, titleFrom, toApiMessage, toApiSession, toEngineHistory, toSummary, type ApiSession } from './session-shapes'
import { SessionLocks, SessionTurn } from './session-turn'

export interface SessionOptions {
  /** Idle sessions older than this are swept; 0 = never. */
  readonly ttlMinutes: number
  /** Stored messages sent to the engine before a turn's own. */
  readonly maxHistoryMessages: number
  /** Longest wait for the session's earlier turn to finish, then 429 (the request's deadline may cut it shorter). */
  readonly turnWaitMs?: number
  /** Told how long each store operation took, in seconds: `history` (a turn's read), `commit` (its write). */
  readonly onStoreOperation?: (operation: 'history' | 'commit', seconds: number) => void
  readonly log: Logger
  readonly now?: () => Date
}

export const PAGE = { default: 50, max: 500 } as const

/**
 * Whose sessions a call acts on. `all`: every session (the open gateway, the admin key); otherwise
 * only those `owner` created, and anyone else's look exactly like missing ones. New sessions get `owner`.
 */
export interface SessionScope {
  readonly owner: string | null
  readonly all: boolean
}

export const ALL_SESSIONS: SessionScope = { owner: null, all: true }

const filterOf = (scope: SessionScope): OwnerFilter => (scope.all ? undefined : (scope.owner ?? ''))

const notFound = (id: string) => new ApiError(404, `No session with id '${id}'`, 'not_found_error', ERROR_CODES.notFound, 'session_id')

export class SessionService {
  private readonly locks = new SessionLocks()
  private sweeper: ReturnType<typeof setInterval> | undefined
  private readonly now: () => Date

  constructor(
    private readonly repo: SessionRepository,
    private readonly options: SessionOptions,
  ) {
    this.now = options.now ?? (() => new Date())
  }

  create(input: { title?: string; session_id?: string; metadata?: Record<string, unknown> }, scope: SessionScope = ALL_SESSIONS): ApiSession {
    const id = input.session_id ?? crypto.randomUUID()
    const at = this.now().toISOString()
    const { title: metadataTitle, ...metadata } = input.metadata ?? {}
    // The title field, else a title inside metadata (the shape sessions are read back in).
    const given = input.title ?? (typeof metadataTitle === 'string' && metadataTitle ? metadataTitle : undefined)
    const created = this.repo.create({ id, title: given ?? DEFAULT_TITLE, titleDefault: given === undefined, metadata: JSON.stringify(metadata), owner: scope.owner, createdAt: at, lastActive: at })
    if (!created) throw new ApiError(409, `A session with id '${id}' already exists`, 'invalid_request_error', ERROR_CODES.conflict, 'session_id')
    return this.get(id, scope)
  }

  get(id: string, scope: SessionScope = ALL_SESSIONS): ApiSession {
    return toApiSession(this.visible(id, scope), this.repo.allMessages(id))
  }

  list(limit: number = PAGE.default, cursor?: string, scope: SessionScope = ALL_SESSIONS) {
    const after = cursor === undefined ? undefined : sessionCursor(cursor)
    const rows = this.repo.page(limit + 1, after, filterOf(scope))
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      sessions: page.map(toSummary),
      stats: this.repo.stats(filterOf(scope)),
      next_cursor: rows.length > limit && last ? encodeCursor({ t: last.last_active, id: last.id }) : null,
    }
  }

  messages(id: string, limit: number = PAGE.default, cursor?: string, scope: SessionScope = ALL_SESSIONS) {
    this.visible(id, scope)
    const afterSeq = cursor === undefined ? 0 : messageCursor(cursor)
    const rows = this.repo.messages(id, afterSeq, limit + 1)
    const page = rows.slice(0, limit)
    return { messages: page.map(toApiMessage), next_cursor: rows.length > limit ? encodeCursor({ seq: page[page.length - 1]!.seq }) : null }
  }

  delete(id: string, scope: SessionScope = ALL_SESSIONS) {
    this.visible(id, scope)
    if (!this.repo.delete(id)) throw notFound(id)
    return { status: 'deleted' as const, session_id: id }
  }

  clear(id: string, scope: SessionScope = ALL_SESSIONS) {
    this.visible(id, scope)
    if (!this.repo.clear(id, this.now().toISOString())) throw notFound(id)
    return { status: 'cleared' as const, session_id: id }
  }

  setTitle(id: string, title: string, scope: SessionScope = ALL_SESSIONS) {
    this.visible(id, scope)
    if (!this.repo.setTitle(id, title, this.now().toISOString())) throw notFound(id)
    return { status: 'updated' as const, session_id: id, title }
  }

  export(id?: string, scope: SessionScope = ALL_SESSIONS) {
    const sessions = id === undefined ? this.repo.all(filterOf(scope)).map((row) => toApiSession(row, this.repo.allMessages(row.id))) : [this.get(id, scope)]
    return { version: '1.0', exported_at: this.now().toISOString(), sessions }
  }

  import(payload: unknown, overwrite: boolean, scope: SessionScope = ALL_SESSIONS) {
    const sessions = parseImport(payload, this.now().toISOString()).map((s) => ({ ...s, session: { ...s.session, owner: scope.owner } }))
    const result = this.repo.importAll(sessions, overwrite, filterOf(scope))
    this.options.log.info('sessions imported', { ...result, overwrite })
    return result
  }

  /** Deletes sessions idle for longer than `maxAgeMinutes`. */
  cleanup(maxAgeMinutes: number, scope: SessionScope = ALL_SESSIONS) {
    const cutoff = new Date(this.now().getTime() - maxAgeMinutes * 60_000).toISOString()
    const removed = this.repo.deleteIdleBefore(cutoff, filterOf(scope))
    if (removed.length) this.options.log.info('idle sessions removed', { count: removed.length, max_age_minutes: maxAgeMinutes })
    return { removed: removed.length, session_ids: removed, max_age_minutes: maxAgeMinutes }
  }

  stats(): SessionStats {
    return this.repo.stats()
  }

  /** The session's row if the scope may see it; a 404 exactly like a missing id's otherwise. */
  private visible(id: string, scope: SessionScope): SessionRow {
    const row = this.repo.get(id)
    if (!row || !isVisible(row, scope)) throw notFound(id)
    return row
  }

  /** Sweeps idle sessions every few minutes (ttl 0: never). */
  startSweeper(): void {
    const ttl = this.options.ttlMinutes
    if (ttl <= 0 || this.sweeper) return
    const every = Math.min(60_000, Math.max(1000, (ttl * 60_000) / 4))
    this.sweeper = setInterval(() => {
      try {
        this.cleanup(ttl)
      } catch (e) {
        this.options.log.error('session sweep failed', { error: (e as Error).message })
      }
    }, every)
  }

  stop(): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  /**
   * Starts a chat turn on the session: waits for earlier turns on it to finish, then returns the
   * messages the engine gets (the last max_history_messages stored, then the request's own).
   */
  async beginTurn(
    sessionId: string,
    requestMessages: readonly Record<string, unknown>[],
    signal: AbortSignal,
    deadlineAt?: number,
    scope: SessionScope = ALL_SESSIONS,
    /** The request continues its last message (continue_final_message, an Anthropic prefill); `echoed`: the reply repeats it (vLLM's echo). */
    continuesLast?: { readonly echoed: boolean },
  ): Promise<SessionTurn> {
    // Someone else's session is missing to this caller: it must not even wait on its lock.
    const before = this.repo.get(sessionId)
    if (before && !isVisible(before, scope)) throw notFound(sessionId)
    const waitMs = Math.max(1, Math.min(this.options.turnWaitMs ?? 30_000, deadlineAt === undefined ? Infinity : deadlineAt - this.now().getTime()))
    const release = await this.locks.acquire(sessionId, signal, waitMs)
    try {
      // Active from now: the idle sweep does not take a session while a turn runs on it.
      const row = this.repo.get(sessionId)
      if (row && !isVisible(row, scope)) throw notFound(sessionId)
      const existed = row !== null
      if (existed) this.repo.touch(sessionId, this.now().toISOString())
      const readAt = performance.now()
      const { engineMessages, toStore } = this.compose(sessionId, requestMessages)
      this.options.onStoreOperation?.('history', (performance.now() - readAt) / 1000)
      const store = { commit: (id: string, messages: readonly NewMessage[], fresh: readonly Record<string, unknown>[]) => this.commit(id, messages, fresh, existed, scope) }
      return new SessionTurn(sessionId, engineMessages, toStore, store, release, this.now, continuesLast)
    } catch (e) {
      release()
      throw e
    }
  }

  /**
   * What the engine gets: one system prompt first (the request's, else the session's latest, however
   * far back), then the stored conversation, then the request's other messages. A client that resends
   * its system prompt every turn (Anthropic clients do) gets it stored once, not once per turn.
   */
  private compose(sessionId: string, requestMessages: readonly Record<string, unknown>[]) {
    const leading = requestMessages.findIndex((m) => !isSystem(m))
    const requestSystem = requestMessages.slice(0, leading < 0 ? requestMessages.length : leading)
    const rest = requestMessages.slice(requestSystem.length)
    const storedSystemRow = this.repo.lastSystemMessage(sessionId)
    const storedSystem = storedSystemRow ? toEngineHistory([storedSystemRow]) : []
    const rows = this.repo.lastMessages(sessionId, this.options.maxHistoryMessages).filter((row) => !isSystem(row))
    const history = toEngineHistory(rows)
    const system = requestSystem.length ? requestSystem : storedSystem
    const repeated = requestSystem.length === 1 && storedSystem.length === 1 && sameMessage(requestSystem[0]!, storedSystem[0]!)
    return { engineMessages: [...system, ...history, ...rest], toStore: repeated ? rest : requestMessages }
  }

  /** Stores a finished turn; a session deleted while its turn ran stays deleted. */
  private commit(sessionId: string, messages: readonly NewMessage[], fresh: readonly Record<string, unknown>[], existed: boolean, scope: SessionScope): void {
    const at = this.now().toISOString()
    const writeAt = performance.now()
    const stored = this.repo.appendTurn(
      { id: sessionId, title: DEFAULT_TITLE, titleDefault: true, metadata: '{}', owner: scope.owner, createdAt: at, lastActive: at },
      messages,
      titleFrom(fresh),
      !existed,
      filterOf(scope),
    )
    this.options.onStoreOperation?.('commit', (performance.now() - writeAt) / 1000)
    if (!stored) this.options.log.info('turn not stored: its session was deleted while it ran', { session_id: sessionId })
  }
}

function isVisible(row: SessionRow, scope: SessionScope): boolean {
  return scope.all || row.owner === scope.owner
}

function sessionCursor(cursor: string): { lastActive: string; id: string } {
  const value = decodeCursor(cursor) as { t?: unknown; id?: unknown } | undefined
  if (typeof value?.t !== 'string' || typeof value.id !== 'string') throw invalidRequest('cursor is not one this API returned (use next_cursor as given)', 'cursor')
  return { lastActive: value.t, id: value.id }
}

function messageCursor(cursor: string): number {
  const value = decodeCursor(cursor) as { seq?: unknown } | undefined
  if (typeof value?.seq !== 'number' || !Number.isInteger(value.seq)) throw invalidRequest('cursor is not one this API returned (use next_cursor as given)', 'cursor')
  return value.seq
}

function isSystem(message: { role?: unknown }): boolean {
  return message.role === 'system' || message.role === 'developer'
}

function sameMessage(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return a.role === b.role && JSON.stringify(a.content ?? null) === JSON.stringify(b.content ?? null)
}
