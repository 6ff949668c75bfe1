// Anthropic Messages API over the same engines: validate, translate the request to an OpenAI chat
// completion, send it through the dispatcher (routing, sessions, retries, limits as for OpenAI
// requests), and translate the answer back, whole or event by event.
import { Elysia } from 'elysia'
import type { EngineRegistry } from '../../control-plane/engine-registry'
import { routeHintsOf } from '../../control-plane/route-hints'
import { anthropicEncoder } from '../../proxy/anthropic-relay'
import { countPromptTokens } from '../../proxy/count-tokens'
import type { Dispatcher } from '../../proxy/dispatch'
import { anthropicModels, AnthropicCountTokensBody, AnthropicMessagesBody } from '../../schemas/anthropic'
import { toOpenAIChat, type AnthropicRequest } from '../../translate/anthropic-request'
import { thinkingOutputOf, toAnthropicMessage } from '../../translate/anthropic-response'
import { AnthropicStreamEncoder } from '../../translate/anthropic-stream'
import { rejectUnknownFields } from '../params'
import type { RequestTelemetry } from '../../telemetry/request-telemetry'
import { requestIdOf, type HoldOpen } from '../request-context'
import type { AdmitInference } from '../auth'

const tags = ['Anthropic']
export interface AnthropicGate {
  readonly holdOpen: HoldOpen
  readonly admit: AdmitInference
  /** count_tokens: the key may use the model (no limits are counted). */
  readonly checkModel: (request: Request, model: string) => void
}

export function anthropicRoutes(dispatcher: Dispatcher, registry: EngineRegistry, requestTimeoutMs: number, telemetry: RequestTelemetry, gate: AnthropicGate) {
  return new Elysia({ name: 'anthropic' })
    .model(anthropicModels)
    .post(
      '/v1/messages',
      async ({ body, request, set }) => {
        gate.holdOpen(request)
        const requestId = requestIdOf(set)
        set.headers['request-id'] = requestId
        const anthropic = body as AnthropicRequest
        const openai = toOpenAIChat(anthropic)
        const hints = routeHintsOf(openai, request.headers)
        const sessionScope = gate.admit('messages', body, { request, set })
        // Engines speaking the Anthropic API take the request untranslated (sessions go the translated way).
        await registry.settled()
        if (!hints.sessionId && registry.messagesGoNative(body.model))
          return dispatcher.dispatch({ operation: 'messages', body: anthropic, requestId, hints, signal: request.signal, record: telemetry.recordOf(request), sessionScope })
        const context = { model: body.model, stopSequences: body.stop_sequences ?? [], thinking: thinkingOutputOf(body.thinking) }
        const stream = body.stream === true
        const response = await dispatcher.dispatch({
          operation: 'chat',
          body: openai as Record<string, unknown> & { model: string },
          requestId,
          hints,
          signal: request.signal,
          record: telemetry.recordOf(request),
          sessionScope,
          // A stream is translated as the relay writes it: the response's events are already Anthropic's.
          encoder: stream ? anthropicEncoder(new AnthropicStreamEncoder(context)) : undefined,
        })
        if (stream) return response
        return toAnthropicMessage((await response.json()) as Record<string, unknown>, context)
      },
      {
        transform: rejectUnknownFields(AnthropicMessagesBody, ['metadata', 'output_config']),
        body: 'anthropic.messages',
        detail: { tags, summary: 'Anthropic Messages API (stream: true for Anthropic server-sent events), over OpenAI-compatible engines' },
      },
    )
    .post(
      '/v1/messages/count_tokens',
      async ({ body, request, set }) => {
        set.headers['request-id'] = requestIdOf(set)
        gate.checkModel(request, body.model)
        const anthropic = body as AnthropicRequest
        const input_tokens = await countPromptTokens(registry, { model: body.model, chat: toOpenAIChat(anthropic), anthropicBody: anthropic, signal: request.signal }, requestTimeoutMs)
        return { input_tokens }
      },
      {
        transform: rejectUnknownFields(AnthropicCountTokensBody, ['metadata', 'output_config']),
        body: 'anthropic.count_tokens',
        detail: { tags, summary: "Prompt tokens of a Messages request, counted by an engine's own tokenizer" },
      },
    )
}
