// How sessions and messages look on the wire (the original gateway's shapes) and in the database,
// and the conversions between them. Pure functions.
import type { MessageRow, NewMessage, SessionRow } from './session-repository'

export const DEFAULT_TITLE = 'New Chat'
const TITLE_CHARS = 60

/** A stored message as the API shows it: the OpenAI message (role, content, tool_calls…) plus timestamp and metadata. */
export interface ApiMessage {
  role: string
  content: unknown
  timestamp: string
  metadata: Record<string, unknown>
  usage?: { prompt_tokens: number | null; completion_tokens: number | null }
  [field: string]: unknown
}

export interface ApiSession {
  id: string
  messages: ApiMessage[]
  created_at: string
  last_active: string
  metadata: Record<string, unknown> & { title: string }
}

export interface SessionSummary {
  id: string
  title: string
  created_at: string
  last_active: string
  message_count: number
}

/** Fields of a message that are not part of the OpenAI message itself. */
const ENVELOPE_FIELDS = new Set(['role', 'content', 'timestamp', 'metadata', 'usage'])

export function toApiMessage(row: MessageRow): ApiMessage {
  const message: ApiMessage = {
    role: row.role,
    content: JSON.parse(row.content) as unknown,
    ...(JSON.parse(row.extra) as Record<string, unknown>),
    timestamp: row.timestamp,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  }
  if (row.prompt_tokens !== null || row.completion_tokens !== null)
    message.usage = { prompt_tokens: row.prompt_tokens, completion_tokens: row.completion_tokens }
  return message
}

/** Fields kept in the session but never sent back: engines (DeepSeek, vLLM's advice) reject reasoning as input. */
const NOT_RESENT = ['reasoning_content', 'reasoning']

/**
 * The stored messages a turn sends the engine before its own: the OpenAI messages only, starting at a
 * user or system message (a history cut at max_history_messages must not open with an assistant reply or
 * a tool result whose call was cut off). A truncated reply goes back as the text the client saw; its
 * unfinished tool calls, or an empty one, do not.
 */
export function toEngineHistory(rows: readonly MessageRow[]): Record<string, unknown>[] {
  const start = rows.findIndex((r) => r.role === 'user' || r.role === 'system')
  if (start < 0) return []
  const history: Record<string, unknown>[] = []
  for (const row of rows.slice(start)) {
    const message: Record<string, unknown> = { role: row.role, content: JSON.parse(row.content) as unknown, ...(JSON.parse(row.extra) as Record<string, unknown>) }
    for (const field of NOT_RESENT) delete message[field]
    if (row.role === 'assistant' && (JSON.parse(row.metadata) as { truncated?: unknown }).truncated === true) {
      delete message.tool_calls
      if (typeof message.content !== 'string' || !message.content) continue
    }
    history.push(message)
  }
  return history
}

/** An OpenAI message (from a request, a reply or an import) as a row to store. */
export function toNewMessage(
  message: Record<string, unknown>,
  timestamp: string,
  metadata: Record<string, unknown> = {},
  tokens: { prompt?: number; completion?: number } = {},
): NewMessage {
  const extra: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(message)) if (!ENVELOPE_FIELDS.has(key) && value !== undefined) extra[key] = value
  return {
    role: String(message.role),
    content: JSON.stringify(message.content ?? null),
    extra: JSON.stringify(extra),
    timestamp,
    metadata: JSON.stringify(metadata),
    prompt_tokens: tokens.prompt ?? null,
    completion_tokens: tokens.completion ?? null,
  }
}

export function toApiSession(row: SessionRow, messages: readonly MessageRow[]): ApiSession {
  return {
    id: row.id,
    messages: messages.map(toApiMessage),
    created_at: row.created_at,
    last_active: row.last_active,
    metadata: { ...(JSON.parse(row.metadata) as Record<string, unknown>), title: row.title },
  }
}

export function toSummary(row: SessionRow): SessionSummary {
  return { id: row.id, title: row.title, created_at: row.created_at, last_active: row.last_active, message_count: row.message_count }
}

/** The title a first user message gives a session: its first non-empty line, at most 60 characters. */
export function titleFrom(messages: readonly Record<string, unknown>[]): string | undefined {
  const user = messages.find((m) => m.role === 'user')
  if (!user) return undefined
  const text = textOf(user.content)
  const line = text.split('\n').map((l) => l.trim()).find(Boolean)
  if (!line) return undefined
  return line.length > TITLE_CHARS ? line.slice(0, TITLE_CHARS) : line
}

/** A message's text: a string, or its text parts joined by newlines (as vLLM renders them for a chat template). */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content))
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
      .join('\n')
  return ''
}

/** Opaque page cursors: base64url JSON, so clients cannot depend on what is inside. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export function decodeCursor(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
  } catch {
    return undefined
  }
}
