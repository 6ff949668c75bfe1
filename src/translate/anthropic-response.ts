// OpenAI chat completion → Anthropic Message, and the pieces both the whole-message and the stream
// translation share: message ids, stop reasons, usage. Pure.
import { ApiError, ERROR_CODES } from '../errors'

type Json = Record<string, unknown>

export interface OpenAIUsage {
  prompt_tokens?: number
  completion_tokens?: number
  prompt_tokens_details?: { cached_tokens?: number } | null
}

export interface AnthropicUsage {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number | null
  cache_read_input_tokens: number | null
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal'

export interface TranslationContext {
  /** The model name the client asked for (reported back as given). */
  readonly model: string
  readonly stopSequences: readonly string[]
  /** What the answer shows of the engine's reasoning (default: all of it). */
  readonly thinking?: ThinkingOutput
}

/**
 * The engine's reasoning (reasoning_content) as Anthropic shows thinking: not at all unless the request
 * asked for thinking (a reasoning model may think anyway; a client that did not ask reads content[0]
 * as text), as empty thinking blocks when it asked for display "omitted", else in full.
 */
export type ThinkingOutput = 'none' | 'omitted' | 'full'

export function thinkingOutputOf(thinking: { type?: unknown; display?: unknown } | undefined): ThinkingOutput {
  if (!thinking || thinking.type === 'disabled') return 'none'
  return thinking.display === 'omitted' ? 'omitted' : 'full'
}

/** The engine's reasoning text in a choice's message or delta (reasoning_content; `reasoning` in newer vLLM). */
export function reasoningOf(message: Json): string | undefined {
  const reasoning = message.reasoning_content ?? message.reasoning
  return typeof reasoning === 'string' && reasoning ? reasoning : undefined
}

/** The stop string an engine says it matched: vLLM's `stop_reason`, SGLang's `matched_stop`. */
export function matchedStopOf(choice: Json): unknown {
  return choice.stop_reason ?? choice.matched_stop
}

export function messageId(): string {
  return `msg_${crypto.randomUUID().replaceAll('-', '')}`
}

/**
 * finish_reason → stop_reason. `stop` is a stop sequence when the engine says which one matched
 * (matchedStopOf) and it is one the client gave; a reply with tool calls stops for tool use.
 */
export function stopReasonOf(finishReason: unknown, matched: unknown, hasToolCalls: boolean, stopSequences: readonly string[]) {
  const stop_sequence = typeof matched === 'string' && stopSequences.includes(matched) ? matched : null
  let stop_reason: StopReason
  if (finishReason === 'length') stop_reason = 'max_tokens'
  else if (finishReason === 'tool_calls' || finishReason === 'function_call' || hasToolCalls) stop_reason = 'tool_use'
  else if (finishReason === 'content_filter') stop_reason = 'refusal'
  else if (stop_sequence !== null) stop_reason = 'stop_sequence'
  else stop_reason = 'end_turn'
  return { stop_reason, stop_sequence: stop_reason === 'stop_sequence' ? stop_sequence : null }
}

/** Anthropic counts cached prompt tokens apart from input_tokens; OpenAI's prompt_tokens includes them. */
export function usageOf(usage: OpenAIUsage | null | undefined): AnthropicUsage {
  const cached = usage?.prompt_tokens_details?.cached_tokens
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - (typeof cached === 'number' ? cached : 0)),
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: null,
    cache_read_input_tokens: typeof cached === 'number' ? cached : null,
  }
}

/** Tool arguments as the object Anthropic clients expect; text that is not a JSON object is the engine's error. */
export function parseToolInput(argumentsText: unknown, toolName: string): Json {
  const raw = typeof argumentsText === 'string' ? argumentsText.trim() : ''
  if (raw === '') return {}
  let input: unknown
  try {
    input = JSON.parse(raw)
  } catch {
    throw badToolArguments(toolName, raw)
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badToolArguments(toolName, raw)
  return input as Json
}

function parsePartialInput(argumentsText: unknown, toolName: string): Json {
  try {
    return parseToolInput(argumentsText, toolName)
  } catch {
    return {}
  }
}

export function badToolArguments(toolName: string, raw: string): ApiError {
  const preview = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw
  return new ApiError(
    502,
    `The engine called tool '${toolName}' with arguments that are not a JSON object: ${preview}`,
    'api_error',
    ERROR_CODES.engineError,
  )
}

/** A whole OpenAI chat completion as an Anthropic Message (first choice). */
export function toAnthropicMessage(completion: Json, context: TranslationContext): Json {
  const choice = ((completion.choices as Json[] | undefined) ?? [])[0] ?? {}
  const message = (choice.message as Json | undefined) ?? {}
  const content: Json[] = []
  const reasoning = reasoningOf(message)
  const thinking = context.thinking ?? 'full'
  if (reasoning !== undefined && thinking !== 'none') content.push({ type: 'thinking', thinking: thinking === 'full' ? reasoning : '', signature: '' })
  if (typeof message.content === 'string' && message.content) content.push({ type: 'text', text: message.content })
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]) : []
  // Arguments cut off by max_tokens are an incomplete tool_use (Anthropic: stop_reason max_tokens), not an engine error.
  const cutOff = choice.finish_reason === 'length'
  for (const call of calls) {
    const fn = (call.function as Json | undefined) ?? {}
    const name = String(fn.name ?? '')
    content.push({ type: 'tool_use', id: toolUseId(call.id), name, input: cutOff ? parsePartialInput(fn.arguments, name) : parseToolInput(fn.arguments, name) })
  }
  return {
    id: messageId(),
    type: 'message',
    role: 'assistant',
    model: context.model,
    content,
    ...stopReasonOf(choice.finish_reason, matchedStopOf(choice), calls.length > 0, context.stopSequences),
    usage: usageOf(completion.usage as OpenAIUsage | undefined),
  }
}

/** The engine's tool call id, or one made up when it sent none (Anthropic clients answer by id). */
export function toolUseId(id: unknown): string {
  return typeof id === 'string' && id ? id : `toolu_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`
}
