// Anthropic SSE text read back into events, and the expected events written out by hand, for the
// golden tests of the stream encoder and the relay. Also builders for the OpenAI chunks they consume.

type Json = Record<string, unknown>

export interface AnthropicEvent {
  event: string
  data: Json
}

/** Each `event: X\ndata: {...}\n\n` of an SSE text; anything else (or a data type ≠ event name) throws. */
export function eventsOf(text: string): AnthropicEvent[] {
  if (text === '') return []
  if (!text.endsWith('\n\n')) throw new Error(`SSE text does not end with a blank line: ${JSON.stringify(text.slice(-60))}`)
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const match = /^event: ([a-z_]+)\ndata: (.+)$/.exec(block)
      if (!match) throw new Error(`not one event line and one data line: ${JSON.stringify(block)}`)
      const [, event, payload] = match as unknown as [string, string, string]
      const data = JSON.parse(payload) as Json
      if (data.type !== event) throw new Error(`event ${event} carries data of type ${String(data.type)}`)
      return { event, data }
    })
}

const event = (type: string, payload: Json = {}): AnthropicEvent => ({ event: type, data: { type, ...payload } })

export const messageStart = (id: string, model: string) =>
  event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    },
  })
export const ping = event('ping')
export const textStart = (index: number) => event('content_block_start', { index, content_block: { type: 'text', text: '' } })
export const thinkingStart = (index: number) =>
  event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } })
export const toolStart = (index: number, id: unknown, name: string) =>
  event('content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } })
export const textDelta = (index: number, text: string) => event('content_block_delta', { index, delta: { type: 'text_delta', text } })
export const thinkingDelta = (index: number, thinking: string) =>
  event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking } })
export const jsonDelta = (index: number, partial_json: string) =>
  event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } })
export const blockStop = (index: number) => event('content_block_stop', { index })
export const messageDelta = (stop_reason: string, usage: Json, stop_sequence: string | null = null) =>
  event('message_delta', { delta: { stop_reason, stop_sequence }, usage })
export const messageStop = event('message_stop')
export const errorEvent = (type: string, message: string) => event('error', { error: { type, message } })

/** message_delta usage when the engine reported none. */
export const noUsage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: null }

/** An OpenAI chat.completion.chunk with one choice (index 0). */
export function openAIChunk(delta: Json, finish_reason: string | null = null, extra: Json = {}): Json {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'qwen3-8b',
    choices: [{ index: 0, delta, logprobs: null, finish_reason, ...extra }],
  }
}

/** The usage-only last chunk engines send for stream_options.include_usage. */
export function usageChunk(prompt_tokens: number, completion_tokens: number): Json {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'qwen3-8b',
    choices: [],
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  }
}
