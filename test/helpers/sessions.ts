// Session tests' toolkit: chat turns on a server-side session through the official OpenAI SDK (the
// session named by the body's session_id or by the x-session-id header, streamed or not), the
// session as GET /sessions/{id} stores it, the messages an engine request carried, and scripted
// engine chunks (content, tool-call and reasoning deltas, a usage-only chunk).
import type OpenAI from 'openai'
import type { RecordedRequest } from './fake-engine'
import type { TestGateway } from './gateway'
import { readJson } from './http'

export type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam

/** How a turn names its session. */
export type Via = 'session_id' | 'x-session-id'

export interface TurnOptions {
  stream?: boolean
  via?: Via
  model?: string
  signal?: AbortSignal
  /** Extra body fields sent to the gateway (and on to the engine, unless the gateway owns them). */
  extra?: Record<string, unknown>
}

/** The assistant's answer as the client saw it: a stream's content deltas concatenated. */
export interface ClientReply {
  content: string | null
  finishReason: string | null
  usage?: OpenAI.CompletionUsage | null
}

export interface StoredMessage {
  role: string
  content: unknown
  timestamp: string
  metadata: Record<string, unknown>
  usage?: { prompt_tokens: number | null; completion_tokens: number | null }
  tool_calls?: unknown[]
  reasoning_content?: string
  [field: string]: unknown
}

export interface StoredSession {
  id: string
  messages: StoredMessage[]
  created_at: string
  last_active: string
  metadata: Record<string, unknown> & { title: string }
}

/** The SDK's create() arguments for a turn: the body (session_id in it or not) and the request options. */
function turnRequest(gw: TestGateway, sessionId: string, messages: string | ChatMessage[], options: TurnOptions) {
  const { via = 'session_id', model = 'm', signal, extra = {} } = options
  const body = {
    model,
    messages: typeof messages === 'string' ? [{ role: 'user', content: messages }] : messages,
    ...extra,
    ...(via === 'session_id' ? { session_id: sessionId } : {}),
  }
  const request = { headers: via === 'x-session-id' ? { 'x-session-id': sessionId } : undefined, signal }
  return { client: gw.openai(), body, request }
}

/** A streamed turn as the SDK's chunk stream, for tests that read it part way or not at all. */
export function streamTurn(gw: TestGateway, sessionId: string, messages: string | ChatMessage[], options: TurnOptions = {}) {
  const { client, body, request } = turnRequest(gw, sessionId, messages, options)
  return client.chat.completions.create({ ...body, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming, request)
}

/** One chat turn on session `sessionId` whose new messages are `messages` (a string is one user message). */
export async function chatTurn(gw: TestGateway, sessionId: string, messages: string | ChatMessage[], options: TurnOptions = {}): Promise<ClientReply> {
  if (!options.stream) {
    const { client, body, request } = turnRequest(gw, sessionId, messages, options)
    const res = await client.chat.completions.create({ ...body, stream: false } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, request)
    const choice = res.choices[0]!
    return { content: choice.message.content, finishReason: choice.finish_reason, usage: res.usage }
  }
  let content = ''
  let finishReason: string | null = null
  let usage: OpenAI.CompletionUsage | null | undefined
  for await (const chunk of await streamTurn(gw, sessionId, messages, options)) {
    const choice = chunk.choices[0]
    if (choice?.delta.content) content += choice.delta.content
    if (choice?.finish_reason) finishReason = choice.finish_reason
    if (chunk.usage) usage = chunk.usage
  }
  return { content, finishReason, usage }
}

/** GET /sessions/{id}: the status, and the session when it is 200. */
export async function fetchSession(gw: TestGateway, id: string): Promise<{ status: number; session?: StoredSession }> {
  const res = await gw.fetch(`/sessions/${encodeURIComponent(id)}`)
  if (res.status !== 200) {
    await res.body?.cancel()
    return { status: res.status }
  }
  return { status: 200, session: (await readJson(res)) as StoredSession }
}

/** The stored session; throws unless GET /sessions/{id} answers 200. */
export async function storedSession(gw: TestGateway, id: string): Promise<StoredSession> {
  const { status, session } = await fetchSession(gw, id)
  if (!session) throw new Error(`GET /sessions/${id} answered ${status}`)
  return session
}

/** The stored messages as the engine gets them back: role, content and the OpenAI fields, no envelope. */
export function asEngineMessages(messages: readonly StoredMessage[]): Record<string, unknown>[] {
  return messages.map(({ timestamp: _t, metadata: _m, usage: _u, ...message }) => message)
}

/** The session's entry in GET /sessions (message_count, title…). */
export async function sessionSummary(gw: TestGateway, id: string): Promise<{ id: string; title: string; message_count: number }> {
  const body = (await readJson(await gw.fetch('/sessions?limit=500'))) as { sessions: { id: string; title: string; message_count: number }[] }
  const found = body.sessions.find((s) => s.id === id)
  if (!found) throw new Error(`session '${id}' is not listed by GET /sessions`)
  return found
}

/** The messages a recorded chat request carried to the engine. */
export function messagesOf(req: RecordedRequest): Record<string, unknown>[] {
  return (req.body?.messages ?? []) as Record<string, unknown>[]
}

/** The text of a recorded chat request's last message. */
export function lastUserText(req: RecordedRequest): string {
  const content = messagesOf(req).at(-1)?.content
  return typeof content === 'string' ? content : ''
}

/** A chat.completion.chunk an engine would send, with one choice. */
export function chatChunk(delta: Record<string, unknown>, finishReason: string | null = null, model = 'm'): object {
  return { id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }
}

/** The usage-only chunk an engine sends last when asked to include usage. */
export function usageChunk(usage: { prompt_tokens: number; completion_tokens: number }, model = 'm'): object {
  return { id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1, model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }
}

export const DONE_EVENT = 'data: [DONE]\n\n'
