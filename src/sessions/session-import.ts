// Validates an import payload (the export wrapper {version, exported_at, sessions}, one session, or a
// list of sessions) into rows to write. Every problem is a 400 naming where it is, e.g.
// `sessions[2].messages[0].role`; nothing is written unless everything is valid. Pure.
import { invalidRequest } from '../errors'
import { SESSION_ID, SESSION_ID_RULE } from '../schemas/session-id'
import type { ImportedSession } from './session-repository'
import { DEFAULT_TITLE, toNewMessage } from './session-shapes'

export function parseImport(payload: unknown, now: string): ImportedSession[] {
  const list = sessionsOf(payload)
  const seen = new Set<string>()
  return list.map((raw, i) => {
    const imported = parseSession(raw, `sessions[${i}]`, now)
    if (seen.has(imported.session.id)) throw invalidRequest(`sessions[${i}].id: '${imported.session.id}' appears twice in the import`, `sessions[${i}].id`)
    seen.add(imported.session.id)
    return imported
  })
}

function sessionsOf(payload: unknown): unknown[] {
  if (Array.isArray(payload)) return payload
  if (isObject(payload) && 'sessions' in payload) {
    if (!Array.isArray(payload.sessions)) throw invalidRequest('sessions: expected a list of sessions', 'sessions')
    return payload.sessions
  }
  if (isObject(payload) && 'id' in payload) return [payload]
  throw invalidRequest('Expected an export ({version, exported_at, sessions: [...]}), one session ({id, messages, ...}) or a list of sessions')
}

function parseSession(raw: unknown, at: string, now: string): ImportedSession {
  if (!isObject(raw)) throw invalidRequest(`${at}: expected a session object`, at)
  const id = raw.id ?? crypto.randomUUID()
  if (typeof id !== 'string' || !SESSION_ID.test(id)) throw invalidRequest(`${at}.id: expected a session id of ${SESSION_ID_RULE}`, `${at}.id`)
  const metadata = raw.metadata ?? {}
  if (!isObject(metadata)) throw invalidRequest(`${at}.metadata: expected an object`, `${at}.metadata`)
  const { title = DEFAULT_TITLE, ...rest } = metadata as Record<string, unknown>
  if (typeof title !== 'string' || !title) throw invalidRequest(`${at}.metadata.title: expected a non-empty string`, `${at}.metadata.title`)
  const createdAt = time(raw.created_at, `${at}.created_at`, now)
  const lastActive = time(raw.last_active, `${at}.last_active`, createdAt)
  const messages = raw.messages ?? []
  if (!Array.isArray(messages)) throw invalidRequest(`${at}.messages: expected a list of messages`, `${at}.messages`)
  return {
    session: { id, title, titleDefault: title === DEFAULT_TITLE, metadata: JSON.stringify(rest), owner: null, createdAt, lastActive },
    messages: messages.map((m, j) => parseMessage(m, `${at}.messages[${j}]`, lastActive)),
  }
}

function parseMessage(raw: unknown, at: string, fallbackTime: string) {
  if (!isObject(raw)) throw invalidRequest(`${at}: expected a message object`, at)
  if (typeof raw.role !== 'string' || !raw.role) throw invalidRequest(`${at}.role: expected a non-empty string`, `${at}.role`)
  const content = raw.content ?? null
  if (content !== null && typeof content !== 'string' && !Array.isArray(content))
    throw invalidRequest(`${at}.content: expected a string, a list of content parts or null`, `${at}.content`)
  const metadata = raw.metadata ?? {}
  if (!isObject(metadata)) throw invalidRequest(`${at}.metadata: expected an object`, `${at}.metadata`)
  const usage = isObject(raw.usage) ? raw.usage : {}
  return toNewMessage(raw, time(raw.timestamp, `${at}.timestamp`, fallbackTime), metadata, {
    prompt: count(usage.prompt_tokens),
    completion: count(usage.completion_tokens),
  })
}

/** ISO-8601 date and time, `T` or a space between them, any fraction, an optional offset. */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i

/** A time as UTC ISO text; one without an offset (Python's isoformat()) is UTC, whatever the server's zone. */
function time(value: unknown, at: string, fallback: string): string {
  if (value === undefined || value === null) return fallback
  const m = typeof value === 'string' ? ISO_TIME.exec(value.trim()) : null
  const ms = m ? Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}${m[4] ?? 'Z'}`) : NaN
  if (Number.isNaN(ms)) throw invalidRequest(`${at}: expected an ISO-8601 time such as 2026-01-31T12:00:00Z (got ${JSON.stringify(value)})`, at)
  return new Date(ms).toISOString()
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
