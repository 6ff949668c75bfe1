// Anthropic Messages tests' toolkit: the official Anthropic SDK pointed at a test gateway, the chat
// requests a fake engine received, scripted OpenAI answers (whole completions, and a chunk stream held
// open until the test lets it go), readers for Anthropic's SSE events and error envelope, and the
// shared engine-and-gateway fixture most files use.
import Anthropic from '@anthropic-ai/sdk'
import { expect } from 'bun:test'
import type { FakeEngine, FakeEngineOptions, RecordedRequest } from './fake-engine'
import { sharedEngineGateway, type TestGateway } from './gateway'

/** The official Anthropic SDK against the gateway, without SDK-side retries. */
export function anthropicClient(gw: TestGateway, options: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ baseURL: gw.url, apiKey: 'x', maxRetries: 0, ...options })
}

export const isChat = (req: RecordedRequest): boolean => req.method === 'POST' && req.path.endsWith('/chat/completions')

/** The chat completion requests an engine received (not discovery, health or /tokenize). */
export const chatRequests = (engine: FakeEngine): RecordedRequest[] => engine.requests.filter(isChat)

/** The one chat request the engine received; throws when it received none or several. */
export function onlyChatRequest(engine: FakeEngine): RecordedRequest {
  const received = chatRequests(engine)
  if (received.length !== 1) throw new Error(`the engine received ${received.length} chat requests, expected 1`)
  return received[0]!
}

/** Makes the engine answer its chat requests with `answer`; every other request as the fake engine would. */
export function answerChats(engine: FakeEngine, answer: (req: RecordedRequest, signal: AbortSignal) => Response | Promise<Response>): void {
  engine.override = (req, signal) => (isChat(req) ? answer(req, signal) : undefined)
}

export interface EngineUsage {
  prompt_tokens: number
  completion_tokens: number
  prompt_tokens_details?: { cached_tokens: number }
}

/** A whole OpenAI chat completion with one choice; `choice` adds fields to it (vLLM's stop_reason). */
export function completion(
  message: Record<string, unknown>,
  finishReason = 'stop',
  usage: EngineUsage = { prompt_tokens: 11, completion_tokens: 5 },
  choice: Record<string, unknown> = {},
): object {
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    created: 1,
    model: 'engine-side-name',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finishReason, ...choice }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  }
}

export interface AnthropicSseEvent {
  /** The `event:` line. */
  event: string | undefined
  /** The parsed `data:` line. */
  data: any
}

/** Anthropic's SSE events of a response text, in order. */
export function anthropicEventsOf(text: string): AnthropicSseEvent[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split('\n')
      const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim()
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n')
      return { event, data: JSON.parse(data) }
    })
}

/** Checks status and the exact envelope {type:"error", error:{type, message}}; returns the message. */
export async function expectAnthropicError(res: Response, status: number, type: string): Promise<string> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const body = (await res.json()) as { type: string; error: { type: string; message: string } }
  expect(Object.keys(body).sort()).toEqual(['error', 'type'])
  expect(body.type).toBe('error')
  expect(Object.keys(body.error).sort()).toEqual(['message', 'type'])
  expect(body.error.type).toBe(type)
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error.message
}

/** What a promise rejected with; fails the test if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`)
    },
    (error: unknown) => error,
  )
}

/** An engine SSE answer the test writes event by event, and ends when it chooses. */
export interface HeldStream {
  readonly response: Response
  /** Sends an event (objects as `data: {json}`, strings raw). */
  send(event: object | string): void
  /** Ends the engine's answer (idempotent). */
  close(): void
  readonly closed: boolean
  /** Whether the gateway cancelled the engine's answer. */
  readonly cancelled: boolean
}

export function heldStream(): HeldStream {
  const encoder = new TextEncoder()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let closed = false
  let cancelled = false
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    cancel() {
      cancelled = true
    },
  })
  return {
    response: new Response(stream, { headers: { 'content-type': 'text/event-stream' } }),
    send(event) {
      controller.enqueue(encoder.encode(typeof event === 'string' ? event : `data: ${JSON.stringify(event)}\n\n`))
    },
    close() {
      if (closed || cancelled) return
      closed = true
      try {
        controller.close()
      } catch {
        // the gateway already went away and the stream is errored: nothing left to end
      }
    },
    get closed() {
      return closed
    },
    get cancelled() {
      return cancelled
    },
  }
}

export interface SharedGateway {
  readonly engine: FakeEngine
  readonly gw: TestGateway
  readonly client: Anthropic
}

/**
 * One fake engine (model `m`) behind one gateway for a whole test file, handed to `receive` once
 * started; the engine's script and request log are reset after each test, both stopped after all.
 */
export function sharedGateway(receive: (shared: SharedGateway) => void, engineOptions: FakeEngineOptions = {}): void {
  sharedEngineGateway(({ engine, gw }) => receive({ engine, gw, client: anthropicClient(gw) }), { models: ['m'], ...engineOptions })
}
