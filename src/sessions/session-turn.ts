// One chat turn on a session: holds the session's lock from reading its history until the reply is
// stored, so concurrent turns on one session run one after the other and none is lost. The engine gets
// the last stored messages before the request's own; the request's messages and the assistant's reply
// are stored together in one transaction once the reply is complete (a stream's once it ends; a
// client that leaves mid-stream gets its partial reply stored, flagged truncated). A failed turn
// stores nothing.
import { ClientGone } from '../engines/engine-client'
import { ApiError, ERROR_CODES } from '../errors'
import type { StreamOutcome, Usage } from '../proxy/stream-relay'
import type { NewMessage } from './session-repository'
import { textOf, toNewMessage } from './session-shapes'

export interface TurnStore {
  /** Stores the turn's messages (creating the session if needed). */
  commit(sessionId: string, messages: readonly NewMessage[], newMessages: readonly Record<string, unknown>[]): void
}

interface ToolCallDelta {
  index?: number
  id?: string
  type?: string
  function?: { name?: string; arguments?: string }
}

export class SessionTurn {
  private settled = false
  private content = ''
  private reasoning = ''
  private readonly toolCalls: { id?: string; type: string; function: { name: string; arguments: string } }[] = []
  private finishReason: string | null = null
  private model: string | undefined

  constructor(
    readonly sessionId: string,
    /** What the engine gets: the stored history, then the request's messages. */
    readonly engineMessages: readonly Record<string, unknown>[],
    private readonly newMessages: readonly Record<string, unknown>[],
    private readonly store: TurnStore,
    private readonly release: () => void,
    private readonly now: () => Date = () => new Date(),
    /**
     * The request continues its last (assistant) message (continue_final_message): the reply completes
     * it (`echoed`: the engine's reply already starts with it, vLLM's echo).
     */
    private readonly continuesLast?: { readonly echoed: boolean },
  ) {}

  /** A non-streamed reply: stores the first choice's message. */
  completeFromBody(text: string, engineId: string, requestId: string): void {
    let reply: { choices?: { message?: Record<string, unknown>; finish_reason?: string | null }[]; usage?: Usage; model?: string }
    try {
      reply = JSON.parse(text) as typeof reply
    } catch {
      return this.abandon()
    }
    const choice = reply.choices?.[0]
    if (!choice?.message) return this.abandon()
    this.store_(choice.message, { engine_id: engineId, request_id: requestId, model: reply.model, finish_reason: choice.finish_reason ?? null }, reply.usage)
  }

  /** One `data:` payload of the engine's stream (not [DONE]): accumulates the first choice's deltas. */
  observe(data: string): void {
    let chunk: { model?: string; choices?: { index?: number; delta?: Record<string, unknown>; finish_reason?: string | null }[] }
    try {
      chunk = JSON.parse(data) as typeof chunk
    } catch {
      return
    }
    this.model ??= chunk.model
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue
      const delta = choice.delta ?? {}
      if (typeof delta.content === 'string') this.content += delta.content
      if (typeof delta.reasoning_content === 'string') this.reasoning += delta.reasoning_content
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as ToolCallDelta[]) this.addToolCall(call)
      if (choice.finish_reason) this.finishReason = choice.finish_reason
    }
  }

  /** The stream is over: store the reply (partial, flagged, when the client left), or nothing if it failed. */
  endStream(outcome: StreamOutcome, engineId: string, requestId: string): void {
    // A client that left after the reply finished has the whole reply: only an unfinished one is truncated.
    const clientLeft = !outcome.ok && outcome.error instanceof ClientGone && this.finishReason === null
    if (!outcome.ok && !(outcome.error instanceof ClientGone)) return this.abandon()
    const message: Record<string, unknown> = { role: 'assistant', content: this.toolCalls.length && !this.content ? null : this.content }
    if (this.toolCalls.length) message.tool_calls = this.toolCalls
    if (this.reasoning) message.reasoning_content = this.reasoning
    const metadata: Record<string, unknown> = { engine_id: engineId, request_id: requestId, model: this.model, finish_reason: this.finishReason }
    if (clientLeft) metadata.truncated = true
    this.store_(message, metadata, outcome.usage)
  }

  /** The turn failed: store nothing, let the next turn in. */
  abandon(): void {
    if (this.settled) return
    this.settled = true
    this.release()
  }

  private store_(reply: Record<string, unknown>, metadata: Record<string, unknown>, usage: Usage | undefined): void {
    if (this.settled) return
    // Tool calls whose arguments are not JSON would break every later turn (engines and Anthropic
    // clients reject them): such a reply is not stored. A truncated one goes back without its calls.
    if (metadata.truncated !== true && hasBrokenToolCalls(reply)) return this.abandon()
    this.settled = true
    try {
      const at = this.now().toISOString()
      // A prefill and the reply that continues it are one assistant message: stored whole, so later
      // turns do not send the engine two assistant messages in a row (templates that alternate refuse them).
      const prefill = this.continuesLast ? this.newMessages.at(-1) : undefined
      const content = prefill?.role === 'assistant' ? prefill.content : undefined
      const continued = typeof content === 'string' || Array.isArray(content) ? textOf(content) : undefined
      const fresh = continued === undefined ? this.newMessages : this.newMessages.slice(0, -1)
      const replyText = typeof reply.content === 'string' ? reply.content : ''
      const whole = continued === undefined || this.continuesLast?.echoed ? reply : { ...reply, content: continued + replyText }
      const messages = [
        ...fresh.map((m) => toNewMessage(m, at)),
        toNewMessage({ ...whole, role: 'assistant' }, at, metadata, { prompt: usage?.prompt_tokens, completion: usage?.completion_tokens }),
      ]
      this.store.commit(this.sessionId, messages, this.newMessages)
    } catch (e) {
      throw new ApiError(500, `The reply could not be stored in session '${this.sessionId}': ${(e as Error).message}`, 'server_error', ERROR_CODES.internal)
    } finally {
      this.release()
    }
  }

  private addToolCall(delta: ToolCallDelta): void {
    const index = delta.index ?? this.toolCalls.length
    const call = (this.toolCalls[index] ??= { type: 'function', function: { name: '', arguments: '' } })
    if (delta.id) call.id = delta.id
    if (delta.type) call.type = delta.type
    if (delta.function?.name) call.function.name += delta.function.name
    if (delta.function?.arguments) call.function.arguments += delta.function.arguments
  }
}

function hasBrokenToolCalls(reply: Record<string, unknown>): boolean {
  if (!Array.isArray(reply.tool_calls)) return false
  return (reply.tool_calls as { function?: { arguments?: unknown } }[]).some((call) => {
    const args = call.function?.arguments
    if (args === undefined || (typeof args === 'string' && args.trim() === '')) return false
    try {
      const parsed: unknown = typeof args === 'string' ? JSON.parse(args) : args
      return typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)
    } catch {
      return true
    }
  })
}

/** Per-session mutual exclusion: turns on one session queue up in arrival order. */
export class SessionLocks {
  private readonly tails = new Map<string, Promise<void>>()

  /**
   * Resolves with the release function once every earlier turn on the session released; rejects with
   * ClientGone if the client leaves first, with 429 resource_exhausted after `timeoutMs`.
   */
  async acquire(sessionId: string, signal: AbortSignal, timeoutMs = Infinity): Promise<() => void> {
    const previous = this.tails.get(sessionId) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const tail = previous.then(() => mine)
    this.tails.set(sessionId, tail)
    void tail.then(() => {
      if (this.tails.get(sessionId) === tail) this.tails.delete(sessionId)
    })
    let released = false
    const releaseOnce = () => {
      if (released) return
      released = true
      release()
    }
    if (signal.aborted) {
      releaseOnce()
      throw new ClientGone()
    }
    let onAbort: (() => void) | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      await Promise.race([
        previous,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new ClientGone())
          signal.addEventListener('abort', onAbort, { once: true })
          if (Number.isFinite(timeoutMs))
            timer = setTimeout(() => reject(turnBusy(sessionId, timeoutMs)), timeoutMs)
        }),
      ])
    } catch (e) {
      // Leaving the queue: whoever waits behind this turn may go once the earlier ones are done.
      releaseOnce()
      throw e
    } finally {
      clearTimeout(timer)
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
    return releaseOnce
  }

  get size(): number {
    return this.tails.size
  }
}

function turnBusy(sessionId: string, waitedMs: number): ApiError {
  return new ApiError(
    429,
    `An earlier turn on session '${sessionId}' is still running after ${waitedMs} ms; turns on one session run one at a time, retry later`,
    'rate_limit_error',
    ERROR_CODES.resourceExhausted,
    'session_id',
    { 'retry-after': '1' },
  )
}
