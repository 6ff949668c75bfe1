// count_tokens: the number of prompt tokens a chat request would take, asked of an engine's own
// tokenizer: an engine speaking the Anthropic API answers `{base}/messages/count_tokens` itself, an
// OpenAI one is asked `POST /tokenize` beside its API prefix (vLLM, SGLang: renders the chat
// template). Engines are tried in turn; when none can count, a 501 says why instead of a guess.
import type { EngineRegistry } from '../control-plane/engine-registry'
import { ClientGone, describeFailure } from '../engines/engine-client'
import { ApiError, ERROR_CODES } from '../errors'

export interface TokenCountRequest {
  readonly model: string
  /** The request as the chat an OpenAI engine would get (toOpenAIChat): its messages, tools and template switches are counted. */
  readonly chat: Readonly<Record<string, unknown>>
  /** The request as an Anthropic client sent it, for engines that speak that API. */
  readonly anthropicBody: Record<string, unknown>
  readonly signal: AbortSignal
}

export async function countPromptTokens(registry: EngineRegistry, request: TokenCountRequest, timeoutMs: number): Promise<number> {
  await registry.settled()
  const native = registry.candidates(request.model, 'messages')
  // With no engine READY for the model, resolve says why, for the engines the request would go to.
  const engines = native.length
    ? [...native, ...registry.candidates(request.model, 'chat')]
    : await registry.resolve(request.model, registry.messagesGoNative(request.model) ? 'messages' : 'chat')
  const problems: string[] = []
  const tokenizeBody = tokenizeBodyOf(request.model, request.chat)
  for (const engine of engines) {
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)])
    const anthropic = engine.api === 'anthropic'
    const url = anthropic ? `${engine.baseUrl}/messages/count_tokens` : `${engine.baseUrl.replace(/\/v1$/, '')}/tokenize`
    const body = anthropic ? request.anthropicBody : tokenizeBody
    try {
      const res = await engine.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(engine.apiKey ? { authorization: `Bearer ${engine.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal,
      })
      const text = await res.text()
      if (res.status === 404 || res.status === 405) {
        problems.push(`${engine.id} has no ${anthropic ? '/messages/count_tokens' : '/tokenize'} endpoint`)
        continue
      }
      if (!res.ok) {
        problems.push(`${engine.id} answered HTTP ${res.status}`)
        continue
      }
      const answer = JSON.parse(text) as { count?: unknown; input_tokens?: unknown }
      const count = anthropic ? answer.input_tokens : answer.count
      if (typeof count === 'number' && Number.isInteger(count) && count >= 0) return count
      problems.push(`${engine.id} answered /tokenize without a count`)
    } catch (e) {
      const failure = describeFailure(e, { signal, clientSignal: request.signal })
      if (failure instanceof ClientGone) throw failure
      problems.push(`${engine.id}: ${failure.message}`)
    }
  }
  throw new ApiError(
    501,
    `No engine serving model '${request.model}' can count tokens (${problems.join('; ')}); count_tokens needs an engine with a /tokenize endpoint, such as vLLM or SGLang`,
    'not_found_error',
    ERROR_CODES.notImplemented,
  )
}

/**
 * vLLM's and SGLang's chat /tokenize body: the messages rendered as the chat would render them, with the
 * same tools and template switches (thinking, a prefill's continue_final_message), so the count is the
 * prompt the chat would send.
 */
function tokenizeBodyOf(model: string, chat: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages: chat.messages, add_generation_prompt: chat.add_generation_prompt ?? true }
  for (const field of ['continue_final_message', 'tools', 'chat_template_kwargs'] as const) if (chat[field] !== undefined) body[field] = chat[field]
  return body
}
