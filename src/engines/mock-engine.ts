// The built-in mock engine: an OpenAI-compatible server as a plain fetch handler, so the gateway can
// call it in-process (no port) through the same client, SSE relay and failover code as a real engine.
// Tests also serve it with Bun.serve as the base of their fake engines.
import { sseEvent, SSE_DONE } from './sse'
import {
  contentText,
  countTokens,
  float32ToBase64,
  generate,
  mockEmbedding,
  mockReply,
  renderChatPrompt,
  type ChatMessageLike,
  type Generation,
} from './mock-text'

export interface MockEngineOptions {
  readonly models: readonly string[]
  /** Pause between stream chunks, in milliseconds. */
  readonly chunkDelayMs?: number
  readonly ownedBy?: string
  readonly embeddingDimensions?: number
}

export interface MockEngine {
  readonly models: readonly string[]
  handle(request: Request): Promise<Response>
}

type Body = Record<string, unknown>

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

const error = (status: number, message: string, param: string | null = null) =>
  json({ error: { message, type: status === 404 ? 'not_found_error' : 'invalid_request_error', param, code: null } }, status)

export function createMockEngine(options: MockEngineOptions): MockEngine {
  const created = Math.floor(Date.now() / 1000)
  const ownedBy = options.ownedBy ?? 'sagellm-mock'
  const delay = options.chunkDelayMs ?? 0
  const dimensions = options.embeddingDimensions ?? 32
  const served = new Set(options.models)

  async function handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname.replace(/^\/v1/, '')
    if (request.method === 'GET' && path === '/health') return json({ status: 'ok' })
    if (request.method === 'GET' && path === '/models')
      return json({ object: 'list', data: options.models.map((id) => ({ id, object: 'model', created, owned_by: ownedBy })) })
    if (request.method !== 'POST') return error(404, `No route for ${request.method} ${path}`)
    let body: Body
    try {
      body = (await request.json()) as Body
    } catch {
      return error(400, 'Request body is not valid JSON')
    }
    const model = String(body.model)
    if (!served.has(model)) return error(404, `The model '${model}' does not exist`, 'model')
    switch (path) {
      case '/chat/completions':
        return chat(body, model, request.signal)
      case '/completions':
        return completions(body, model, request.signal)
      case '/embeddings':
        return embeddings(body, model)
      case '/tokenize':
        return tokenize(body)
      default:
        return error(404, `No route for POST ${path}`)
    }
  }

  function chat(body: Body, model: string, signal: AbortSignal): Response {
    const messages = (body.messages ?? []) as ChatMessageLike[]
    const lastUser = [...messages].reverse().find((m) => m.role === 'user')
    const gen = generate(mockReply(model, contentText(lastUser?.content)), maxTokens(body), stopList(body.stop))
    const promptTokens = countTokens(renderChatPrompt(messages))
    const n = typeof body.n === 'number' ? body.n : 1
    const id = `chatcmpl-mock-${crypto.randomUUID()}`
    const now = Math.floor(Date.now() / 1000)
    const usage = { prompt_tokens: promptTokens, completion_tokens: gen.pieces.length * n, total_tokens: promptTokens + gen.pieces.length * n }
    if (body.stream !== true) {
      return json({
        id,
        object: 'chat.completion',
        created: now,
        model,
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: 'assistant', content: gen.pieces.join('') },
          logprobs: null,
          finish_reason: gen.finishReason,
          stop_reason: gen.stopReason,
        })),
        usage,
      })
    }
    const base = { id, object: 'chat.completion.chunk', created: now, model }
    return streamOf(signal, body, usage, function* () {
      for (let index = 0; index < n; index++) yield { ...base, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }
      for (const piece of gen.pieces)
        for (let index = 0; index < n; index++) yield { ...base, choices: [{ index, delta: { content: piece }, logprobs: null, finish_reason: null }] }
      for (let index = 0; index < n; index++)
        yield { ...base, choices: [{ index, delta: {}, logprobs: null, finish_reason: gen.finishReason, stop_reason: gen.stopReason }] }
    }, base)
  }

  /** vLLM's POST /tokenize (beside /v1): the prompt tokens of chat messages or of a prompt. */
  function tokenize(body: Body): Response {
    const text = Array.isArray(body.messages) ? renderChatPrompt(body.messages as ChatMessageLike[]) : String(body.prompt ?? '')
    const count = countTokens(text)
    return json({ count, max_model_len: 32_768, tokens: Array.from({ length: count }, (_, i) => i) })
  }

  function completions(body: Body, model: string, signal: AbortSignal): Response {
    const prompts = promptList(body.prompt)
    const n = typeof body.n === 'number' ? body.n : 1
    const gens: Generation[] = prompts.map((p) => generate(mockReply(model, p), maxTokens(body) ?? 16, stopList(body.stop)))
    const promptTokens = prompts.reduce((sum, p) => sum + countTokens(p), 0)
    const completionTokens = gens.reduce((sum, g) => sum + g.pieces.length, 0) * n
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
    const id = `cmpl-mock-${crypto.randomUUID()}`
    const now = Math.floor(Date.now() / 1000)
    const echo = body.echo === true
    if (body.stream !== true) {
      return json({
        id,
        object: 'text_completion',
        created: now,
        model,
        choices: gens.flatMap((g, p) =>
          Array.from({ length: n }, (_, k) => ({
            index: p * n + k,
            text: (echo ? prompts[p] : '') + g.pieces.join(''),
            logprobs: null,
            finish_reason: g.finishReason,
          })),
        ),
        usage,
      })
    }
    const base = { id, object: 'text_completion', created: now, model }
    return streamOf(signal, body, usage, function* () {
      const longest = Math.max(0, ...gens.map((g) => g.pieces.length))
      for (let t = 0; t < longest; t++)
        for (const [p, g] of gens.entries())
          for (let k = 0; k < n; k++) {
            const piece = g.pieces[t]
            if (piece !== undefined) yield { ...base, choices: [{ index: p * n + k, text: (t === 0 && echo ? prompts[p] : '') + piece, logprobs: null, finish_reason: null }] }
          }
      for (const [p, g] of gens.entries())
        for (let k = 0; k < n; k++) yield { ...base, choices: [{ index: p * n + k, text: '', logprobs: null, finish_reason: g.finishReason }] }
    }, base)
  }

  function embeddings(body: Body, model: string): Response {
    const inputs = promptList(body.input)
    const dims = typeof body.dimensions === 'number' && body.dimensions > 0 ? body.dimensions : dimensions
    const base64 = body.encoding_format === 'base64'
    const promptTokens = inputs.reduce((sum, text) => sum + countTokens(text), 0)
    return json({
      object: 'list',
      data: inputs.map((text, index) => {
        const v = mockEmbedding(text, dims)
        return { object: 'embedding', index, embedding: base64 ? float32ToBase64(v) : Array.from(v) }
      }),
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })
  }

  /** An SSE response from chunks, paced by `delay`, with the usage chunk when asked; stops on abort. */
  function streamOf(signal: AbortSignal, body: Body, usage: object, chunks: () => Generator<object>, base: object): Response {
    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true
    const encoder = new TextEncoder()
    const iterator = chunks()
    let finished = false
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (finished) return
        const next = iterator.next()
        if (next.done) {
          finished = true
          const tail = includeUsage ? sseEvent({ ...base, choices: [], usage }) : ''
          controller.enqueue(encoder.encode(tail + SSE_DONE))
          controller.close()
          return
        }
        if (delay > 0) await Bun.sleep(delay)
        if (signal.aborted) {
          finished = true
          controller.error(signal.reason)
          return
        }
        controller.enqueue(encoder.encode(sseEvent(includeUsage ? { ...next.value, usage: null } : next.value)))
      },
      cancel() {
        finished = true
      },
    })
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
  }

  return { models: options.models, handle }
}

function maxTokens(body: Body): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens
  return typeof v === 'number' ? v : undefined
}

function stopList(stop: unknown): string[] {
  if (typeof stop === 'string') return [stop]
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string') : []
}

/** A prompt or embedding input: string, list of strings, token ids, or lists of token ids. */
function promptList(input: unknown): string[] {
  if (typeof input === 'string') return [input]
  if (!Array.isArray(input)) return ['']
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')]
  return input.map((x) => (typeof x === 'string' ? x : Array.isArray(x) ? x.join(' ') : String(x)))
}
