// How an engine's SSE stream speaks, for the stream relay (stream-relay.ts): OpenAI's (`data: [DONE]`
// ends it; a failure is an error event, then [DONE]; the usage-only chunk the gateway asked for is
// dropped when the client did not ask for it) or Anthropic's (`message_stop` ends it; a failure is an
// `error` event). Each event is classified as it passes: forward it, the answer finished, the stream
// over, the engine failed.
import { SSE_DONE, sseEvent } from '../engines/sse'
import { ERROR_CODES } from '../errors'
import type { Usage } from './stream-relay'

/** What one engine event means for the relay. */
export interface EventVerdict {
  /** Send it to the client. */
  readonly forward: boolean
  /** The engine's answer is complete (a finish reason, or the end of the message). */
  readonly finished?: boolean
  /** The stream is over after this event. */
  readonly done?: boolean
  /** The engine reported a failure in the stream itself. */
  readonly failure?: string
}

export interface SseDialect {
  classify(event: string, data: string | undefined, state: { clientWantsUsage: boolean; setUsage(usage: Usage): void }): EventVerdict
  /** The stream's last words: after its last event, and after a failure's event. */
  readonly doneTail: string
  /** Tells the client the stream failed (its SDK raises it); doneTail follows. */
  failureTail(message: string, code: string): string
}

const FORWARD: EventVerdict = { forward: true }

export const OPENAI_SSE: SseDialect = {
  classify(_event, data, state) {
    // Held back: [DONE] goes out once onEnd has run (a session turn is stored before [DONE]).
    if (data === '[DONE]') return { forward: false, done: true }
    if (data === undefined) return FORWARD
    const finished = data.includes('finish_reason') && FINISHED.test(data)
    // The usage-only chunk has no choices; only it is parsed (every chunk may carry "usage":null).
    if (data.includes('"usage"') && EMPTY_CHOICES.test(data)) {
      const chunk = parseChunk(data)
      if (chunk?.usage) state.setUsage(chunk.usage)
      if (!state.clientWantsUsage && chunk?.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0) return { forward: false, finished }
    }
    return finished ? { forward: true, finished } : FORWARD
  },
  doneTail: SSE_DONE,
  // A failure mid-stream (the engine's, or a turn that could not be stored) is a server error:
  // retryable, as every 5xx is (errors.ts isRetryable).
  failureTail: (message, code) => sseEvent({ error: { message, type: 'server_error', param: null, code, retryable: true } }),
}

const ANTHROPIC_EVENT = /^event: *(\S+)/m

/** An engine that speaks the Anthropic Messages API (passed through untranslated). */
export const ANTHROPIC_SSE: SseDialect = {
  classify(event, data, state) {
    const type = ANTHROPIC_EVENT.exec(event)?.[1]
    if (type === 'message_stop') return { forward: true, finished: true, done: true }
    if (type === 'error') return { forward: true, done: true, failure: engineErrorMessage(data) }
    if (type === 'message_delta' && data) {
      const usage = (parseChunk(data) as { usage?: { input_tokens?: number; output_tokens?: number } } | undefined)?.usage
      if (usage) state.setUsage({ prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens })
    }
    return FORWARD
  },
  doneTail: '',
  failureTail: (message, code) =>
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: code === ERROR_CODES.deadlineExceeded ? 'timeout_error' : 'api_error', message } })}\n\n`,
}

function engineErrorMessage(data: string | undefined): string {
  const error = (parseChunk(data ?? '') as { error?: { message?: unknown } } | undefined)?.error
  return typeof error?.message === 'string' ? error.message : 'the engine sent an error event'
}

const FINISHED = /"finish_reason":\s*"/
const EMPTY_CHOICES = /"choices":\s*\[\s*\]/

function parseChunk(data: string): { usage?: Usage; choices?: unknown[] } | undefined {
  try {
    return JSON.parse(data) as { usage?: Usage; choices?: unknown[] }
  } catch {
    return undefined
  }
}
