// Driving the /sessions API from tests: one call per route, gateways stopped after each test, chat
// turns through the official OpenAI SDK, sessions to import with chosen timestamps, and the totals
// counted from an export (what /health's trigger-kept counters must equal).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type OpenAI from 'openai'
import { postJson, startGateway, type TestGateway } from './gateway'
import { readJson } from './http'

export interface ErrorBody {
  message: string
  type: string
  param: string | null
  code: string | null
  retryable: boolean
}

export const errorOf = async (res: Response): Promise<ErrorBody> => (await readJson(res)).error as ErrorBody

const id = (sessionId: string) => encodeURIComponent(sessionId)

export function sessionsClient(gw: TestGateway) {
  const send = (method: string, path: string, body?: unknown) =>
    body === undefined ? gw.fetch(path, { method }) : gw.fetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return {
    list: (query = '') => gw.fetch(`/sessions${query}`),
    create: (body?: unknown) => send('POST', '/sessions', body),
    get: (sessionId: string) => gw.fetch(`/sessions/${id(sessionId)}`),
    remove: (sessionId: string) => send('DELETE', `/sessions/${id(sessionId)}`),
    clear: (sessionId: string) => send('POST', `/sessions/${id(sessionId)}/clear`),
    rename: (sessionId: string, title: unknown) => send('PATCH', `/sessions/${id(sessionId)}/title`, { title }),
    messages: (sessionId: string, query = '') => gw.fetch(`/sessions/${id(sessionId)}/messages${query}`),
    exportAll: () => gw.fetch('/sessions/export'),
    exportOne: (sessionId: string) => gw.fetch(`/sessions/${id(sessionId)}/export`),
    import: (payload: unknown, query = '') => postJson(gw, `/sessions/import${query}`, payload),
    cleanup: (query = '') => send('POST', `/sessions/cleanup${query}`),
  }
}

export type SessionsClient = ReturnType<typeof sessionsClient>

/** Starts gateways (mock engine, in-memory db unless told otherwise) and stops every one of them, and anything deferred, in afterEach. */
export class Gateways {
  private readonly stops: (() => Promise<void>)[] = []

  async start(argv: string[] = [], env: Record<string, string> = {}): Promise<{ gw: TestGateway; api: SessionsClient }> {
    const started = await startGateway(['--mock', ...argv], { env })
    let stopped: Promise<void> | undefined
    const gw: TestGateway = { ...started, stop: () => (stopped ??= started.stop()) }
    this.stops.push(() => gw.stop())
    return { gw, api: sessionsClient(gw) }
  }

  /** A fresh directory for a SQLite file, removed when the test is over. */
  dbPath(): string {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sessions-'))
    this.stops.push(async () => rmSync(dir, { recursive: true, force: true }))
    return join(dir, 'gateway.db')
  }

  /** Runs `stop` when the test is over (after the gateways started later are stopped). */
  defer(stop: () => Promise<void> | void): void {
    this.stops.push(async () => stop())
  }

  async cleanup(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop()
  }
}

/** One non-streamed chat turn on a session through the official SDK (session_id is a gateway body field). */
export function chatTurn(gw: TestGateway, sessionId: string, content: string | OpenAI.Chat.ChatCompletionContentPart[], before: OpenAI.Chat.ChatCompletionMessageParam[] = []): Promise<OpenAI.Chat.ChatCompletion> {
  const params = { model: 'mock', messages: [...before, { role: 'user', content }], session_id: sessionId }
  return gw.openai().chat.completions.create(params as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
}

export interface Totals {
  total_sessions: number
  total_messages: number
}

/** /health's session counters. */
export async function healthTotals(gw: TestGateway): Promise<Totals> {
  return (await readJson(await gw.fetch('/health'))).sessions as Totals
}

/** The totals counted row by row from a full export: what the counters must agree with. */
export async function countedTotals(api: SessionsClient): Promise<Totals> {
  const sessions = (await readJson(await api.exportAll())).sessions as { messages: unknown[] }[]
  return { total_sessions: sessions.length, total_messages: sessions.reduce((n, s) => n + s.messages.length, 0) }
}

/** A session to import, idle since `lastActive`, with `messages` user/assistant messages. */
export function importable(sessionId: string, lastActive: string, messages = 0, title = `Title of ${sessionId}`) {
  return {
    id: sessionId,
    created_at: lastActive,
    last_active: lastActive,
    metadata: { title },
    messages: Array.from({ length: messages }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: `${sessionId} message ${i}`,
      timestamp: lastActive,
      metadata: {},
    })),
  }
}

/** An ISO time `minutes` before now. */
export const minutesAgo = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString()
