// Relays an engine's SSE stream to the client event by event, in the turn each chunk arrives (the
// engine's body pushes them: engines/body-flow.ts). The dialect (sse-dialects.ts: OpenAI's or
// Anthropic's) says how the stream ends and how a failure is told; apart from that the stream is
// passed on unchanged, and a stream the engine cuts short, or that stays silent past the deadline,
// ends with the dialect's error instead of a silent cut.
import { subscribeBody } from '../engines/body-flow'
import { ClientGone, describeFailure, EngineError, type BodyFlow, type BodySink, type EngineBody, type EngineResponse } from '../engines/engine-client'
import { SseSplitter, sseData } from '../engines/sse'
import { ERROR_CODES } from '../errors'
import type { Deadline } from './deadline'
import { OPENAI_SSE, type SseDialect } from './sse-dialects'

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
  /** Aborts the engine request: on silence, at shutdown, and on the client's abort (from 100 ms into the call). */
  readonly deadline: Deadline
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
  /** What the client gets in place of the OpenAI events the relay passes on (an Anthropic client's stream). */
  readonly encoder?: ClientEncoder
}

/**
 * Re-encodes the relay's client-bound OpenAI SSE text into another API's stream, inside the relay's
 * own writes (no second stream per chunk, and the first events still leave with the response head).
 */
export interface ClientEncoder {
  /** The client's text for whole OpenAI events (each ending in a blank line); '' for nothing to send. */
  events(text: string): string
  /** The client's last text once the OpenAI stream is over (after its final events). */
  end(): string
}

/**
 * Waits for the engine's first complete event, so a failure before anything reached the client can
 * still go to another engine (it rejects with EngineError then), and gives the client-facing stream.
 */
export function openStreamRelay(response: EngineResponse, options: RelayOptions): Promise<ReadableStream<Uint8Array>> {
  const body = response.body
  if (!body) return Promise.reject(new EngineError('protocol', 'stream response has no body'))
  return new Promise((resolve, reject) => new StreamRelay(body, options, resolve, reject))
}

/** How long an engine may take to end its answer after [DONE] before it is cut off. */
const DRAIN_MS = 1000
/** Chunks past [DONE] that an engine may still send (a usage chunk, a comment) before it is cut off. */
const DRAIN_CHUNKS = 8

/**
 * One stream, relayed as the engine pushes it: each chunk is split into events, filtered, and written
 * to the client in the same turn it arrived (no promise or queue per chunk). When the client pushes
 * back, the engine's body is paused (its connection stops being read) and the engine-silence deadline
 * with it. One object per stream holds what the closures of a read loop would.
 */
class StreamRelay implements BodySink {
  private readonly splitter = new SseSplitter()
  private readonly dialect: SseDialect
  private readonly flow: BodyFlow
  readonly clientWantsUsage: boolean
  private usage: Usage | undefined
  private sawDone = false
  private sawFinish = false
  private engineFailure: string | undefined
  /** Before the first event: a failure still goes back to the caller. */
  private opening = true
  /** What the client should get next, held until the client's stream is being written. */
  private pending = ''
  private controller: ReadableStreamDirectController | undefined
  private closeClient: (() => void) | undefined
  /** The stream is over for the client; what ends it is written once its controller is there. */
  private finishing: { failure?: Error } | undefined
  /** onEnd has run. */
  private ended = false
  private engineOver = false
  private cancelled = false
  private drained = 0
  private drainTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    body: EngineBody,
    private readonly options: RelayOptions,
    private resolveOpen: ((stream: ReadableStream<Uint8Array>) => void) | undefined,
    private rejectOpen: ((e: Error) => void) | undefined,
  ) {
    this.dialect = options.dialect ?? OPENAI_SSE
    this.clientWantsUsage = options.clientWantsUsage
    options.deadline.arm()
    this.flow = subscribeBody(body, this)
  }

  setUsage(usage: Usage): void {
    this.usage = usage
  }

  // BodySink: the engine's chunks and end, as they come (from a socket read: nothing may escape).
  chunk(bytes: Uint8Array): void {
    try {
      this.relay(bytes)
    } catch (e) {
      this.fault(e as Error)
    }
  }

  end(error?: Error): void {
    try {
      this.over(error)
    } catch (e) {
      this.fault(e as Error)
    }
  }

  /** The relay's own failure (bookkeeping that threw): the stream ends with it, the engine is let go. */
  private fault(error: Error): void {
    this.flow.cancel()
    this.engineOver = true
    if (this.opening) this.refuse(error)
    else this.finish(error)
  }

  /** Nothing reached the client: the caller gets the failure, and may try another engine. */
  private refuse(error: Error): void {
    this.opening = false
    this.options.deadline.clear()
    const reject = this.rejectOpen!
    this.resolveOpen = this.rejectOpen = undefined
    reject(error)
  }

  private relay(bytes: Uint8Array): void {
    if (this.ended) {
      // The engine ending its answer after [DONE] (or after a failure we are reporting): read, dropped.
      if (++this.drained > DRAIN_CHUNKS) this.flow.cancel()
      return
    }
    // The engine spoke: the silence deadline starts again.
    this.options.deadline.arm()
    const out = this.filter(this.splitter.push(bytes))
    if (this.opening) {
      this.pending += out
      if (this.pending || this.sawDone) this.open()
    } else if (out) this.send(out, out.length === this.splitter.whole?.length ? bytes : undefined)
    if (this.sawDone) this.finish()
  }

  private over(error?: Error): void {
    this.engineOver = true
    clearTimeout(this.drainTimer)
    if (this.ended) return
    const failure = error ? describeFailure(error, { signal: this.options.deadline, clientSignal: this.options.clientSignal }) : undefined
    if (!failure) {
      const rest = this.splitter.rest()
      const out = rest ? this.filter([rest]) : ''
      if (this.opening) this.pending += out
      else if (out) this.send(out)
    }
    if (this.opening) {
      if (failure || !this.pending) return this.refuse(failure ?? new EngineError('protocol', 'engine closed the stream before sending any event'))
      this.open()
    }
    if (failure instanceof ClientGone) return this.goneClient(failure)
    this.finish(failure)
  }

  /** Keeps the events the client should get, noting the end, finish reasons and usage. */
  private filter(events: string[]): string {
    let out = ''
    for (const event of events) {
      if (this.sawDone) break
      const data = sseData(event)
      const verdict = this.dialect.classify(event, data, this)
      if (data !== undefined && data !== '[DONE]') this.options.onData?.(data)
      if (verdict.finished) this.sawFinish = true
      if (verdict.failure !== undefined) this.engineFailure = verdict.failure
      if (verdict.forward) out += `${event}\n\n`
      if (verdict.done) this.sawDone = true
    }
    return out
  }

  /** The first event came: the caller gets the client's stream. */
  private open(): void {
    this.opening = false
    const resolve = this.resolveOpen!
    this.resolveOpen = this.rejectOpen = undefined
    // A direct stream: Bun writes what the relay hands it straight to the client's socket, with no
    // queue, pull promise or copy per chunk in between (a reader or a pipe gets the same chunks).
    resolve(
      new ReadableStream<Uint8Array>({
        type: 'direct',
        pull: (controller) => this.started(controller),
        cancel: () => this.cancel(),
      } satisfies Bun.DirectUnderlyingSource<Uint8Array>),
    )
  }

  /** The client's stream is being written: what was held goes out, and it stays open until the end. */
  private started(controller: ReadableStreamDirectController): Promise<void> {
    this.controller = controller
    const closed = new Promise<void>((resolve) => (this.closeClient = resolve))
    if (this.pending) {
      const held = this.pending
      this.pending = ''
      this.send(held)
      // Out now, with the response head: left to Bun, the head leaves as two writes (ours, then its
      // Date and framing with these events), two segments the client must wait for and put together.
      // (A stream already over is written whole below, with a Content-Length, in one write anyway.)
      if (!this.finishing) controller.flush()
    }
    if (this.finishing) this.writeTail(this.finishing.failure)
    return closed
  }

  /**
   * Writes to the client (`bytes`: the same as `out`, as the engine sent it); when the client pushes
   * back, the engine waits (and its silence is not counted).
   */
  private send(out: string, bytes?: Uint8Array): void {
    if (this.cancelled) return
    const controller = this.controller
    if (!controller) {
      this.pending += out
      return
    }
    const encoder = this.options.encoder
    const text = encoder ? encoder.events(out) : out
    if (!text) return
    const written = controller.write(encoder ? text : (bytes ?? text))
    if (typeof written === 'number') return
    this.options.deadline.disarm()
    this.flow.pause()
    written.then(this.afterBackpressure, () => {})
  }

  private readonly afterBackpressure = (): void => {
    if (this.ended) return
    this.options.deadline.arm()
    this.flow.resume()
  }

  /** The stream is over for the client: its ending goes out now, or as soon as its stream is written. */
  private finish(failure?: Error): void {
    if (this.finishing) return
    this.finishing = { failure }
    if (this.controller) this.writeTail(failure)
  }

  private writeTail(failure?: Error): void {
    if (this.cancelled) return
    const encoder = this.options.encoder
    const tail = this.tail(failure)
    const text = encoder ? encoder.events(tail) + encoder.end() : tail
    if (text) this.controller!.write(text)
    this.controller!.close()
    this.closeClient?.()
  }

  /** What closes the client's stream: the dialect's ending (or its error) after the outcome is settled. */
  private tail(failure?: Error): string {
    const dialect = this.dialect
    if (this.engineFailure !== undefined && !failure) {
      // The engine told the client itself (its error event went through): only the outcome is ours.
      this.conclude({ ok: false, error: new EngineError('protocol', `sent an error event: ${this.engineFailure}`), usage: this.usage })
      return ''
    }
    if (failure || (!this.sawDone && !this.sawFinish)) {
      const error = failure ?? new EngineError('protocol', 'engine ended the stream without finishing')
      const code = error instanceof EngineError && error.kind === 'timeout' ? ERROR_CODES.deadlineExceeded : ERROR_CODES.engineError
      const text = dialect.failureTail(`Engine ${this.options.engineId} failed mid-stream: ${error.message}`, code)
      this.conclude({ ok: false, error, usage: this.usage })
      return text + dialect.doneTail
    }
    const problem = this.conclude({ ok: true, usage: this.usage })
    return problem ? dialect.failureTail(problem.message, ERROR_CODES.internal) + dialect.doneTail : dialect.doneTail
  }

  /** The client went away (its stream was cancelled, or its abort reached the engine call). */
  private cancel(): void {
    this.cancelled = true
    this.conclude({ ok: false, error: new ClientGone(), usage: this.usage })
    this.closeClient?.()
  }

  private goneClient(error: ClientGone): void {
    if (this.cancelled) return
    this.conclude({ ok: false, error, usage: this.usage })
    this.controller?.close(error)
    this.closeClient?.()
  }

  /** Settles the outcome once: onEnd runs, and the engine's body is finished with. */
  private conclude(outcome: StreamOutcome): Error | void {
    if (this.ended) return
    this.ended = true
    this.options.deadline.clear()
    if (!this.engineOver) {
      // After [DONE] the engine is ending its answer: read the end, so its connection goes back to the
      // pool (a cancelled body closes it, and the next request pays for a new one). Otherwise the
      // engine may still be generating for a client that is gone or a stream we are failing: stop it.
      if (outcome.ok && this.sawDone) {
        this.drainTimer = setTimeout(() => this.flow.cancel(), DRAIN_MS)
        this.flow.resume()
      } else this.flow.cancel()
    }
    try {
      return this.options.onEnd(outcome)
    } catch {
      // bookkeeping must never turn into a second ending of the stream
    }
  }
}
