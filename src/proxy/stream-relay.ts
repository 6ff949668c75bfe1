// Relays an engine's OpenAI SSE stream to the client event by event, as each arrives.
// The only changes made to the stream: the usage-only chunk the gateway asked for is dropped when
// the client did not ask for it, and a stream the engine cuts short, or that stays silent past the
// deadline, ends with an OpenAI error event and `data: [DONE]` instead of a silent cut.
import { ClientGone, describeFailure, EngineError } from '../engines/engine-client'
import { SSE_DONE, SseSplitter, sseData, sseEvent } from '../engines/sse'
import { ERROR_CODES } from '../errors'
import type { Deadline } from './deadline'

export interface Usage {
  prompt_tokens?: number
  completion_tokens?: number
  total_tokens?: number
}

export type StreamOutcome =
  | { ok: true; usage?: Usage }
  | { ok: false; error: Error; usage?: Usage }

export interface RelayOptions {
  readonly engineId: string
  readonly clientWantsUsage: boolean
  readonly deadline: Deadline
  /** The client's signal plus the deadline's: aborts the engine request. */
  readonly signal: AbortSignal
  readonly clientSignal: AbortSignal
  /** Called exactly once, when the relay is over for any reason, before the client gets `[DONE]`. */
  readonly onEnd: (outcome: StreamOutcome) => void
  /** Sees every `data:` payload from the engine but [DONE], as it passes. */
  readonly onData?: (data: string) => void
}

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>

const FINISHED = /"finish_reason":\s*"/
const encoder = new TextEncoder()

/**
 * Reads until the engine's first complete event, so a failure before anything reached the client can
 * still go to another engine (it throws EngineError then), and returns the client-facing stream.
 */
export async function openStreamRelay(response: Response, options: RelayOptions): Promise<ReadableStream<Uint8Array>> {
  if (!response.body) throw new EngineError('protocol', 'stream response has no body')
  const reader = response.body.getReader()
  const splitter = new SseSplitter()
  let usage: Usage | undefined
  let sawDone = false
  let sawFinish = false
  let ended = false

  /** Keeps the events the client should get, noting [DONE], finish reasons and usage. */
  const filter = (events: string[]): string => {
    let out = ''
    for (const event of events) {
      if (sawDone) break
      const data = sseData(event)
      if (data === '[DONE]') {
        // Held back: finish() sends it once onEnd has run (a session turn is stored before [DONE]).
        sawDone = true
        break
      } else if (data !== undefined) {
        options.onData?.(data)
        if (!sawFinish && data.includes('finish_reason') && FINISHED.test(data)) sawFinish = true
        // The usage-only chunk has no choices; only it is parsed (every chunk may carry "usage":null).
        if (data.includes('"choices":[]') && data.includes('"usage"')) {
          const chunk = parseChunk(data)
          if (chunk?.usage) usage = chunk.usage
          if (!options.clientWantsUsage && chunk?.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0) continue
        }
      }
      out += `${event}\n\n`
    }
    return out
  }

  let engineDone = false
  const end = (outcome: StreamOutcome) => {
    if (ended) return
    ended = true
    options.deadline.clear()
    // The engine may still be sending (after [DONE], or we are failing it): stop it.
    if (!engineDone) void reader.cancel().catch(() => {})
    try {
      options.onEnd(outcome)
    } catch {
      // bookkeeping must never turn into a second ending of the stream
    }
  }

  const readMore = async (): Promise<ReadResult> => {
    options.deadline.arm()
    try {
      const result = await reader.read()
      if (result.done) engineDone = true
      return result
    } catch (e) {
      engineDone = true
      throw describeFailure(e, options)
    } finally {
      options.deadline.disarm()
    }
  }

  // Before the first byte goes out: a failure here is the caller's to retry elsewhere.
  let pending = ''
  while (!pending && !sawDone) {
    let result: ReadResult
    try {
      result = await readMore()
    } catch (e) {
      options.deadline.clear()
      await reader.cancel().catch(() => {})
      throw e
    }
    if (result.done) {
      pending = filter([splitter.rest() ?? ''].filter(Boolean))
      if (!pending) throw new EngineError('protocol', 'engine closed the stream before sending any event')
      break
    }
    pending = filter(splitter.push(result.value))
  }

  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, failure?: Error) => {
    let tail = ''
    if (failure || (!sawDone && !sawFinish)) {
      const error = failure ?? new EngineError('protocol', 'engine ended the stream without finishing')
      tail = sseEvent({
        error: {
          message: `Engine ${options.engineId} failed mid-stream: ${error.message}`,
          type: 'server_error',
          param: null,
          code: error instanceof EngineError && error.kind === 'timeout' ? ERROR_CODES.deadlineExceeded : ERROR_CODES.engineError,
        },
      })
      end({ ok: false, error, usage })
    } else {
      end({ ok: true, usage })
    }
    controller.enqueue(encoder.encode(tail + SSE_DONE))
    controller.close()
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (pending) controller.enqueue(encoder.encode(pending))
      if (sawDone) finish(controller)
    },
    async pull(controller) {
      try {
        for (;;) {
          const result = await readMore()
          if (result.done) {
            const rest = splitter.rest()
            const out = rest ? filter([rest]) : ''
            if (out) controller.enqueue(encoder.encode(out))
            return finish(controller)
          }
          const out = filter(splitter.push(result.value))
          if (out) controller.enqueue(encoder.encode(out))
          if (sawDone) return finish(controller)
          if (out) return
        }
      } catch (e) {
        if (e instanceof ClientGone) {
          end({ ok: false, error: e, usage })
          controller.error(e)
          return
        }
        finish(controller, e as Error)
      }
    },
    cancel() {
      // The client went away: end() stops the engine's generation at once.
      end({ ok: false, error: new ClientGone(), usage })
    },
  })
}

function parseChunk(data: string): { usage?: Usage; choices?: unknown[] } | undefined {
  try {
    return JSON.parse(data) as { usage?: Usage; choices?: unknown[] }
  } catch {
    return undefined
  }
}
