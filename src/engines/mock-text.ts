// Deterministic "generation" for the built-in mock engine: a word-piece tokenizer, the chat prompt
// rendering it counts, the reply it derives from the prompt, and embedding vectors from a hash.
// The reply says plainly that no model is behind it.

/** One token = a run of letters/digits or one other symbol, with the white space before it. */
const TOKEN = /\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]/gu

export function mockTokenize(text: string): string[] {
  return text.match(TOKEN) ?? []
}

export function countTokens(text: string): number {
  let n = 0
  TOKEN.lastIndex = 0
  while (TOKEN.exec(text)) n++
  return n
}

export interface ChatMessageLike {
  role?: unknown
  content?: unknown
  name?: unknown
}

/** The text of a message's content: a string, or the text of its parts (images count as a marker). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((part: { type?: string; text?: unknown }) =>
      typeof part?.text === 'string' ? part.text : part?.type ? `[${part.type}]` : '',
    )
    .join('\n')
}

/** The prompt a chat template would produce; its token count is the request's prompt_tokens. */
export function renderChatPrompt(messages: readonly ChatMessageLike[]): string {
  return `${messages.map((m) => `<|${String(m.role)}|>\n${contentText(m.content)}\n`).join('')}<|assistant|>\n`
}

const EXCERPT_TOKENS = 48

/** The mock's answer to a prompt: the same prompt always gives the same text. */
export function mockReply(model: string, lastUserText: string): string {
  const tokens = mockTokenize(lastUserText.trim())
  const excerpt = tokens.slice(0, EXCERPT_TOKENS).join('').trim()
  const said = excerpt ? `You said: "${excerpt}${tokens.length > EXCERPT_TOKENS ? ' …' : ''}"` : 'You said nothing.'
  return `Mock reply from ${model} (sagellm-gateway's built-in mock engine, no model behind it). ${said}`
}

export interface Generation {
  /** The pieces to emit, one per token. */
  readonly pieces: readonly string[]
  readonly finishReason: 'stop' | 'length'
  /** The stop sequence that ended it, as vLLM reports it in `stop_reason`; null otherwise. */
  readonly stopReason: string | null
}

/** Cuts the reply at the earliest stop sequence, then at max_tokens. */
export function generate(reply: string, maxTokens: number | undefined, stop: readonly string[]): Generation {
  let text = reply
  let matched: string | null = null
  for (const s of stop) {
    const at = s ? text.indexOf(s) : -1
    if (at >= 0) {
      text = text.slice(0, at)
      matched = s
    }
  }
  const pieces = mockTokenize(text)
  if (maxTokens !== undefined && pieces.length > maxTokens) return { pieces: pieces.slice(0, maxTokens), finishReason: 'length', stopReason: null }
  // Ending by itself and ending at a stop sequence are both 'stop' in the OpenAI API.
  return { pieces, finishReason: 'stop', stopReason: matched }
}

/** FNV-1a, 32 bit. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A unit vector of `dimensions` floats determined by the text (mulberry32 seeded by its hash). */
export function mockEmbedding(text: string, dimensions: number): Float32Array {
  let seed = hash(text)
  const v = new Float32Array(dimensions)
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    v[i] = x
    norm += x * x
  }
  const scale = 1 / Math.sqrt(norm || 1)
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale
  return v
}

export function float32ToBase64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
}
