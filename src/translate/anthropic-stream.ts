// OpenAI chat completion chunks → the Anthropic streaming event sequence, chunk by chunk as they
// arrive: message_start, ping, then for each content block content_block_start, its deltas
// (text_delta, thinking_delta, input_json_delta) and content_block_stop, then message_delta (stop
// reason, usage) and message_stop; or an `error` event when the engine fails. A new kind of content
// (text after thinking, a second tool call) closes the open block and starts the next index. Pure.
import { ApiError } from '../errors'
import {
  matchedStopOf,
  messageId,
  parseToolInput,
  reasoningOf,
  stopReasonOf,
  toolUseId,
  usageOf,
  type OpenAIUsage,
  type ThinkingOutput,
  type TranslationContext,
} from './anthropic-response'

type Json = Record<string, unknown>

interface ToolState {
  id?: string
  name: string
  /** The block's index once started; fragments wait in `pending` until the name is known. */
  index?: number
  pending: string
  args: string
}

interface ToolCallDelta {
  index?: number
  id?: string
  function?: { name?: string; arguments?: string }
}

export function sseEvent(type: string, payload: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`
}

export class AnthropicStreamEncoder {
  private started = false
  private ended = false
  private nextIndex = 0
  private open: { kind: 'text' | 'thinking' | 'tool_use'; index: number } | undefined
  private readonly tools = new Map<number, ToolState>()
  private finishReason: unknown = null
  private matchedStop: unknown = null
  private usage: OpenAIUsage | undefined

  private readonly thinking: ThinkingOutput

  constructor(
    private readonly context: TranslationContext,
    readonly id: string = messageId(),
  ) {
    this.thinking = context.thinking ?? 'full'
  }

  /** One OpenAI chunk (parsed), translated to the events it implies (possibly none). */
  chunk(chunk: Json): string {
    if (this.ended) return ''
    let out = this.start()
    if (chunk.usage) this.usage = chunk.usage as OpenAIUsage
    for (const choice of (chunk.choices as Json[] | undefined) ?? []) {
      if ((choice.index ?? 0) !== 0) continue
      const delta = (choice.delta as Json | undefined) ?? {}
      const reasoning = reasoningOf(delta)
      if (reasoning !== undefined && this.thinking !== 'none')
        out += this.into('thinking', this.thinking === 'full' ? { type: 'thinking_delta', thinking: reasoning } : undefined)
      if (typeof delta.content === 'string' && delta.content) out += this.into('text', { type: 'text_delta', text: delta.content })
      // An engine may send `tool_calls: []` with every chunk: nothing to do for it.
      if (Array.isArray(delta.tool_calls)) (delta.tool_calls as ToolCallDelta[]).forEach((call, k) => (out += this.toolDelta(call, k)))
      if (choice.finish_reason) this.finishReason = choice.finish_reason
      const matched = matchedStopOf(choice)
      if (matched !== undefined && matched !== null) this.matchedStop = matched
    }
    return out
  }

  /** The engine finished: close the open block, report the stop reason and usage, end the message. */
  finish(): string {
    if (this.ended) return ''
    let out = this.start()
    for (const tool of this.tools.values()) {
      try {
        if (!tool.name) throw new ApiError(502, 'The engine streamed a tool call without a name', 'api_error', null)
        // Arguments cut off by max_tokens end as an incomplete tool_use with stop_reason max_tokens.
        if (this.finishReason !== 'length') parseToolInput(tool.args, tool.name)
      } catch (e) {
        return out + this.fail((e as Error).message)
      }
    }
    out += this.closeOpen()
    this.ended = true
    const { input_tokens, output_tokens, cache_read_input_tokens } = usageOf(this.usage)
    out += sseEvent('message_delta', {
      delta: stopReasonOf(this.finishReason, this.matchedStop, this.tools.size > 0, this.context.stopSequences),
      usage: { input_tokens, output_tokens, cache_read_input_tokens },
    })
    return out + sseEvent('message_stop', {})
  }

  /** The engine failed mid-stream: Anthropic clients raise the `error` event. */
  fail(message: string, type = 'api_error'): string {
    if (this.ended) return ''
    this.ended = true
    return sseEvent('error', { error: { type, message } })
  }

  private start(): string {
    if (this.started) return ''
    this.started = true
    const message = {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.context.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    }
    return sseEvent('message_start', { message }) + sseEvent('ping', {})
  }

  /** A delta for a text or thinking block (none: the block is only opened), opening one (and closing the previous block) if needed. */
  private into(kind: 'text' | 'thinking', delta: Json | undefined): string {
    let out = ''
    if (this.open?.kind !== kind) {
      out += this.closeOpen()
      const index = this.nextIndex++
      this.open = { kind, index }
      const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' }
      out += sseEvent('content_block_start', { index, content_block: block })
    }
    return delta ? out + sseEvent('content_block_delta', { index: this.open.index, delta }) : out
  }

  private toolDelta(call: ToolCallDelta, position: number): string {
    const key = call.index ?? this.keyWithoutIndex(call, position)
    let tool = this.tools.get(key)
    if (!tool) {
      tool = { name: '', pending: '', args: '' }
      this.tools.set(key, tool)
    }
    if (call.id) tool.id ??= call.id
    if (call.function?.name) tool.name += call.function.name
    const fragment = call.function?.arguments ?? ''
    tool.args += fragment
    let out = ''
    if (tool.index === undefined) {
      tool.pending += fragment
      // The block starts once its name is known; its arguments so far follow at once.
      if (!tool.name) return ''
      out += this.closeOpen()
      tool.index = this.nextIndex++
      this.open = { kind: 'tool_use', index: tool.index }
      out += sseEvent('content_block_start', { index: tool.index, content_block: { type: 'tool_use', id: toolUseId(tool.id), name: tool.name, input: {} } })
      const pending = tool.pending
      tool.pending = ''
      if (pending) out += sseEvent('content_block_delta', { index: tool.index, delta: { type: 'input_json_delta', partial_json: pending } })
      return out
    }
    // A fragment of a call whose block is already closed (the engine interleaved two calls) still
    // goes to that call's own index, where clients accumulate it.
    if (fragment) out += sseEvent('content_block_delta', { index: tool.index, delta: { type: 'input_json_delta', partial_json: fragment } })
    return out
  }

  /** Engines that omit `index`: a delta with a new id is a new call, one without continues the last. */
  private keyWithoutIndex(call: ToolCallDelta, position: number): number {
    if (this.tools.size === 0) return position
    if (call.id) {
      for (const [key, tool] of this.tools) if (tool.id === call.id) return key
      return Math.max(...this.tools.keys()) + 1
    }
    return Math.max(...this.tools.keys())
  }

  private closeOpen(): string {
    if (!this.open) return ''
    const { index } = this.open
    this.open = undefined
    return sseEvent('content_block_stop', { index })
  }
}
