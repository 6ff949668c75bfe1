// OpenAI inference routes: validate the fields the gateway reads, then hand the request to the
// dispatcher, which picks the engine and shapes the answer (JSON or an SSE stream). Every schema here
// keeps the fields it does not name (fields the gateway does not read go to the engine), so the
// client's own JSON text can be sent on when the gateway changes nothing (upstream-body.ts).
import { Elysia } from 'elysia'
import type { Operation } from '../../control-plane/engine'
import { routeHintsOf } from '../../control-plane/route-hints'
import type { Dispatcher } from '../../proxy/dispatch'
import { openAIModels } from '../../schemas/openai'
import type { RequestTelemetry } from '../../telemetry/request-telemetry'
import type { AdmitInference } from '../auth'
import { carriedByResponse, requestIdOf, takeJsonText, type HoldOpen } from '../request-context'

export function openAIInferenceRoutes(dispatcher: Dispatcher, telemetry: RequestTelemetry, admit: AdmitInference, holdOpen: HoldOpen) {
  const handle =
    (operation: Operation) =>
    ({ body, request, set }: { body: Record<string, unknown> & { model: string }; request: Request; set: { headers: Record<string, unknown> } }) => {
      holdOpen(request)
      const hints = routeHintsOf(body, request.headers)
      const sessionScope = admit(operation, body, { request, set })
      return dispatcher.dispatch({ operation, body, bodyText: takeJsonText(request), requestId: requestIdOf(set), hints, signal: request.signal, record: telemetry.recordOf(request), sessionScope }).then((response) => {
        carriedByResponse(set)
        return response
      })
    }
  return new Elysia({ name: 'openai-inference' })
    .model(openAIModels)
    .post('/v1/chat/completions', handle('chat'), {
      body: 'openai.chat.request',
      detail: { tags: ['OpenAI'], summary: 'Chat completion (stream: true for server-sent events)' },
    })
    .post('/v1/completions', handle('completions'), {
      body: 'openai.completion.request',
      detail: { tags: ['OpenAI'], summary: 'Legacy text completion (stream: true for server-sent events)' },
    })
    .post('/v1/embeddings', handle('embeddings'), {
      body: 'openai.embedding.request',
      detail: { tags: ['OpenAI'], summary: 'Embeddings of a string or a batch' },
    })
}
