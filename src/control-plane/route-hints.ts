// What a request tells the router besides its model: its session (body session_id, else header
// x-session-id), the affinity key (the session, else header x-session-affinity, else the OpenAI
// `user` field), the prompt prefix (computed only if the locality
// strategy asks), the priority (header x-sagellm-priority, 0-4 or a name) and the deadline (header
// x-sagellm-deadline-ms). Pure functions.
import { invalidRequest } from '../errors'
import { PRIORITY } from './admission-queue'
import { SESSION_ID, SESSION_ID_RULE } from '../schemas/session-id'

export const ROUTE_HEADERS = {
  session: 'x-session-id',
  affinity: 'x-session-affinity',
  priority: 'x-sagellm-priority',
  deadline: 'x-sagellm-deadline-ms',
} as const

export interface RouteHints {
  /** The server-side session a chat turn belongs to. */
  readonly sessionId?: string
  readonly affinityKey?: string
  /** The prompt's first `limit` characters (computed once, on first use). */
  readonly prefix: (limit: number) => string
  readonly priority: number
  /** Epoch ms by which the client wants its answer. */
  readonly deadlineAt?: number
}

/** A deadline above this is an epoch time in ms, not a budget (2001-09-09 in epoch ms). */
const EPOCH_MS_FLOOR = 1e12

export function routeHintsOf(body: Record<string, unknown>, headers: Headers, now = Date.now()): RouteHints {
  const sessionId = (typeof body.session_id === 'string' && body.session_id ? body.session_id : undefined) ?? sessionHeader(headers)
  const header = headers.get(ROUTE_HEADERS.affinity) || undefined
  const user = typeof body.user === 'string' && body.user ? body.user : undefined
  let prefix: string | undefined
  return {
    sessionId,
    affinityKey: sessionId ?? header ?? user,
    prefix: (limit) => (prefix ??= promptText(body, limit)),
    priority: parsePriority(headers.get(ROUTE_HEADERS.priority)),
    deadlineAt: parseDeadline(headers.get(ROUTE_HEADERS.deadline), now),
  }
}

function sessionHeader(headers: Headers): string | undefined {
  const value = headers.get(ROUTE_HEADERS.session)?.trim()
  if (!value) return undefined
  if (!SESSION_ID.test(value)) throw invalidRequest(`Header ${ROUTE_HEADERS.session} must be a session id of ${SESSION_ID_RULE}`, 'session_id')
  return value
}

function parsePriority(value: string | null): number {
  if (value === null || value.trim() === '') return PRIORITY.NORMAL
  const text = value.trim().toUpperCase()
  if (text in PRIORITY) return PRIORITY[text as keyof typeof PRIORITY]
  if (/^[0-4]$/.test(text)) return Number(text)
  throw invalidRequest(
    `Header ${ROUTE_HEADERS.priority} must be 0-4 or a name (CRITICAL=0, HIGH=1, NORMAL=2, LOW=3, BACKGROUND=4), got '${value}'`,
    ROUTE_HEADERS.priority,
  )
}

function parseDeadline(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const ms = Number(value.trim())
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(ms))
    throw invalidRequest(`Header ${ROUTE_HEADERS.deadline} must be a positive integer of milliseconds, got '${value}'`, ROUTE_HEADERS.deadline)
  return ms >= EPOCH_MS_FLOOR ? ms : now + ms
}

/**
 * The text an engine's prefix cache sees first: the chat messages in order (role and content), or the
 * prompt, or the embedding input. Only the start matters, so it stops once it has `limit` characters.
 */
export function promptText(body: Record<string, unknown>, limit = 65_536): string {
  let text = ''
  const add = (part: unknown) => {
    if (text.length >= limit) return
    if (typeof part === 'string') text += part
    else if (Array.isArray(part)) for (const p of part) add(p)
    else if (part && typeof part === 'object') {
      const block = part as { text?: unknown; content?: unknown; role?: unknown }
      if (typeof block.role === 'string') text += `<${block.role}>`
      add(block.text ?? block.content)
    } else if (typeof part === 'number') text += String(part)
  }
  add(body.messages ?? body.prompt ?? body.input)
  return text.slice(0, limit)
}
