// Turns the gateway's OpenAI SSE stream for one chat completion (as the stream relay hands it to a
// client: engine chunks, then `[DONE]`, or an error event and `[DONE]`) into Anthropic's streaming
// events, event by event as they arrive. Cancelling the result cancels the engine request.
import { SseSplitter, sseData } from '../engines/sse'
import type { AnthropicStreamEncoder } from '../translate/anthropic-stream'

const encoder = new TextEncoder()

export function toAnthropicStream(openAIStream: ReadableStream<Uint8Array>, translate: AnthropicStreamEncoder): ReadableStream<Uint8Array> {
  const splitter = new SseSplitter()
  const convert = (events: string[]): string => {
    let out = ''
    for (const event of events) {
      const data = sseData(event)
      if (data === undefined) continue
      if (data === '[DONE]') {
        out += translate.finish()
        continue
      }
      let chunk: Record<string, unknown>
      try {
        chunk = JSON.parse(data) as Record<string, unknown>
      } catch {
        out += translate.fail(`The engine sent an event that is not JSON: ${data.slice(0, 200)}`)
        continue
      }
      const error = chunk.error as { message?: unknown; code?: unknown } | undefined
      if (error && typeof error === 'object' && !chunk.choices) {
        out += translate.fail(String(error.message ?? 'the engine failed'), error.code === 'deadline_exceeded' ? 'timeout_error' : 'api_error')
        continue
      }
      try {
        out += translate.chunk(chunk)
      } catch (e) {
        out += translate.fail((e as Error).message)
      }
    }
    return out
  }
  return openAIStream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(bytes, controller) {
        const out = convert(splitter.push(bytes))
        if (out) controller.enqueue(encoder.encode(out))
      },
      flush(controller) {
        const rest = splitter.rest()
        let out = rest ? convert([rest]) : ''
        // The OpenAI stream always ends with [DONE]; if it did not, say so rather than end silently.
        out += translate.fail('The engine stream ended without finishing')
        if (out) controller.enqueue(encoder.encode(out))
      },
    }),
  )
}
