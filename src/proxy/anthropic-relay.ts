// The stream relay's encoder for an Anthropic client: the OpenAI SSE events the relay passes on for one
// chat completion (engine chunks, then `[DONE]`, or an error event and `[DONE]`) become Anthropic's
// streaming events, event by event, in the relay's own writes.
import { sseData } from '../engines/sse'
import type { AnthropicStreamEncoder } from '../translate/anthropic-stream'
import type { ClientEncoder } from './stream-relay'

export function anthropicEncoder(translate: AnthropicStreamEncoder): ClientEncoder {
  /** Text after the last blank line seen (the relay hands over whole events, so normally nothing). */
  let held = ''
  const convert = (event: string): string => {
    const data = sseData(event)
    if (data === undefined) return ''
    if (data === '[DONE]') return translate.finish()
    let chunk: Record<string, unknown>
    try {
      chunk = JSON.parse(data) as Record<string, unknown>
    } catch {
      return translate.fail(`The engine sent an event that is not JSON: ${data.slice(0, 200)}`)
    }
    const error = chunk.error as { message?: unknown; code?: unknown } | undefined
    if (error && typeof error === 'object' && !chunk.choices) {
      return translate.fail(String(error.message ?? 'the engine failed'), error.code === 'deadline_exceeded' ? 'timeout_error' : 'api_error')
    }
    try {
      return translate.chunk(chunk)
    } catch (e) {
      return translate.fail((e as Error).message)
    }
  }
  return {
    events(text) {
      const all = held + text
      const end = all.lastIndexOf('\n\n')
      if (end < 0) {
        held = all
        return ''
      }
      held = all.slice(end + 2)
      let out = ''
      for (const event of all.slice(0, end).split('\n\n')) if (event) out += convert(event)
      return out
    },
    end() {
      const rest = held.trim()
      held = ''
      // The OpenAI stream always ends with [DONE]; if it did not, say so rather than end silently.
      return (rest ? convert(rest) : '') + translate.fail('The engine stream ended without finishing')
    },
  }
}
