// Relays an engine's SSE stream to the client event by event, as each arrives. The dialect says how
// the stream ends and how a failure is told: OpenAI's (`data: [DONE]`; a failure is an error event,
// then [DONE]; the usage-only chunk the gateway asked for is dropped when the client did not ask for
// it) or Anthropic's (`message_stop`; a failure is an `error` event). Apart from that the stream is
// passed on unchanged, and a stream the engine cuts short, or that stays silent past the deadline,
// ends with the dialect's error instead of a silent cut.
import { ClientGone, describeFailure, EngineError, type EngineResponse } from '../engines/engine-client'
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
  /** The deadline's signal, which the client's abort also aborts: aborts the engine request. */
  readonly signal: AbortSignal
  readonly clientSignal: AbortSignal
  /**
   * Called exactly once, when the relay is over for any reason, before the client gets `[DONE]`. An
   * Error it returns (a session turn that could not be stored) ends a good stream as a failure.
   */
  readonly onEnd: (outcome: StreamOutcome) => Error | void
  /** Sees every `data:` payload from the engine but [DONE], as it passes. */
  readonly onData?: (data: string) => void
  /** Default: OpenAI. */
  readonly dialect?: SseDialect
}

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
  /** Sent after the last event of a stream that ended well. */
  readonly doneTail: string
  /** Ends a stream that failed: the client's SDK raises it. */
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
  failureTail: (message, code) => sseEvent({ error: { message, type: 'server_error', param: null, code } }),
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

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>

const FINISHED = /"finish_reason":\s*"/
const EMPTY_CHOICES = /"choices":\s*\[\s*\]/

/**
 * Reads until the engine's first complete event, so a failure before anything reached the client can
 * still go to another engine (it throws EngineError then), and returns the client-facing stream.
 */
export async function openStreamRelay(response: EngineResponse, options: RelayOptions): Promise<ReadableStream<Uint8Array>> {
  if (!response.body) throw new EngineError('protocol', 'stream response has no body')
  const reader = response.body.getReader()
  const splitter = new SseSplitter()
  let usage: Usage | undefined
  let sawDone = false
  let sawFinish = false
  let ended = false

  const dialect = options.dialect ?? OPENAI_SSE
  let engineFailure: string | undefined
  const state = { clientWantsUsage: options.clientWantsUsage, setUsage: (u: Usage) => (usage = u) }
  /** Keeps the events the client should get, noting the end, finish reasons and usage. */
  const filter = (events: string[]): string => {
    let out = ''
    for (const event of events) {
      if (sawDone) break
      const data = sseData(event)
      const verdict = dialect.classify(event, data, state)
      if (data !== undefined && data !== '[DONE]') options.onData?.(data)
      if (verdict.finished) sawFinish = true
      if (verdict.failure !== undefined) engineFailure = verdict.failure
      if (verdict.forward) out += `${event}\n\n`
      if (verdict.done) sawDone = true
    }
    return out
  }

  let engineDone = false
  const end = (outcome: StreamOutcome): Error | void => {
    if (ended) return
    ended = true
    options.deadline.clear()
    // After [DONE] the engine is ending its answer: read the end, so its connection goes back to the
    // pool (a cancelled body closes it, and the next request pays for a new one). Otherwise the engine
    // may still be generating for a client that is gone or a stream we are failing: stop it.
    if (!engineDone) void (outcome.ok && sawDone ? drainEngine(reader) : reader.cancel().catch(() => {}))
    try {
      return options.onEnd(outcome)
    } catch {
      // bookkeeping must never turn into a second ending of the stream
    }
  }

  // One engine read with the deadline armed while it waits; a plain promise chain (no async frame)
  // because it runs once per chunk.
  const onRead = (result: ReadResult): ReadResult => {
    options.deadline.disarm()
    if (result.done) engineDone = true
    return result
  }
  const onReadFailure = (e: unknown): never => {
    options.deadline.disarm()
    engineDone = true
    throw describeFailure(e, options)
  }
  const readMore = (): Promise<ReadResult> => {
    options.deadline.arm()
    return reader.read().then(onRead, onReadFailure)
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

  /** What closes the client's stream: the dialect's ending (or its error) after the outcome is settled. */
  const tail = (failure?: Error): string => {
    if (engineFailure !== undefined && !failure) {
      // The engine told the client itself (its error event went through): only the outcome is ours.
      end({ ok: false, error: new EngineError('protocol', `sent an error event: ${engineFailure}`), usage })
      return ''
    }
    if (failure || (!sawDone && !sawFinish)) {
      const error = failure ?? new EngineError('protocol', 'engine ended the stream without finishing')
      const code = error instanceof EngineError && error.kind === 'timeout' ? ERROR_CODES.deadlineExceeded : ERROR_CODES.engineError
      const text = dialect.failureTail(`Engine ${options.engineId} failed mid-stream: ${error.message}`, code)
      end({ ok: false, error, usage })
      return text + (dialect === OPENAI_SSE ? dialect.doneTail : '')
    }
    const problem = end({ ok: true, usage })
    return problem ? dialect.failureTail(problem.message, ERROR_CODES.internal) + (dialect === OPENAI_SSE ? dialect.doneTail : '') : dialect.doneTail
  }

  let cancelled = false
  /**
   * The relay loop: one read from the engine, one write to the client, awaiting the write only when
   * the client pushes back (its time is not the engine's: the deadline is disarmed meanwhile). A read
   * that was exactly whole events, all passed on, goes out as the bytes the engine sent.
   */
  const relay = async (controller: ReadableStreamDirectController): Promise<void> => {
    let failure: Error | undefined
    try {
      if (pending) await controller.write(pending)
      while (!sawDone && !cancelled) {
        const result = await readMore()
        if (cancelled) return
        if (result.done) {
          const rest = splitter.rest()
          const out = rest ? filter([rest]) : ''
          if (out) await controller.write(out)
          break
        }
        const out = filter(splitter.push(result.value))
        if (out) {
          const written = controller.write(out.length === splitter.whole?.length ? result.value : out)
          if (typeof written !== 'number') await written
        }
      }
    } catch (e) {
      if (e instanceof ClientGone && !cancelled) {
        end({ ok: false, error: e, usage })
        controller.close(e)
        return
      }
      failure = e as Error
    }
    if (cancelled) return
    const text = tail(failure)
    if (text) controller.write(text)
    controller.close()
  }

  // A direct stream: Bun writes what the relay hands it straight to the client's socket, with no
  // queue, pull promise or copy per chunk in between (a reader or a pipe gets the same chunks).
  return new ReadableStream<Uint8Array>({
    type: 'direct',
    pull: relay,
    cancel() {
      // The client went away: end() stops the engine's generation at once.
      cancelled = true
      end({ ok: false, error: new ClientGone(), usage })
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>)
}

/** How long an engine may take to end its answer after [DONE] before it is cut off. */
const DRAIN_MS = 1000
/** Reads past [DONE] that an engine may still send (a usage chunk, a comment) before it is cut off. */
const DRAIN_READS = 8

async function drainEngine(reader: { read(): Promise<{ done: boolean }>; cancel(): Promise<void> }): Promise<void> {
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), DRAIN_MS)
  try {
    for (let i = 0; i < DRAIN_READS; i++) if ((await reader.read()).done) return
    await reader.cancel()
  } catch {
    // cancelled by the timer, or the engine dropped the connection: nothing left to read either way
  } finally {
    clearTimeout(timer)
  }
}

function parseChunk(data: string): { usage?: Usage; choices?: unknown[] } | undefined {
  try {
    return JSON.parse(data) as { usage?: Usage; choices?: unknown[] }
  } catch {
    return undefined
  }
}
