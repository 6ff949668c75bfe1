// GET /v1/models and /v1/models/{id}: the models some READY engine serves, one entry per id, as
// OpenAI model cards, or as Anthropic ModelInfo objects and pages for clients that send
// `anthropic-version` (both SDKs call these same paths).
import { Elysia } from 'elysia'
import type { EngineRegistry } from '../../control-plane/engine-registry'
import { modelNotFound } from '../../errors'
import { toAnthropicModel, toAnthropicModelPage } from '../../translate/anthropic-models'
import { fromAnthropicClient } from '../dialect'
import { intQuery } from '../params'
import { requestIdOf } from '../request-context'

/** Which models a request's key may see (all, or those of its `models` list). */
export type ModelFilterOf = (request: Request) => (model: string) => boolean

// Anthropic's defaults and bounds for `limit`.
const PAGE_LIMIT = { default: 20, max: 1000 }

export function openAIModelRoutes(registry: EngineRegistry, visibleTo: ModelFilterOf) {
  return new Elysia({ name: 'openai-models' })
    .get(
      '/v1/models',
      ({ query, request, set }) => {
        const visible = visibleTo(request)
        const cards = registry.listModels().filter((m) => visible(m.id))
        if (!fromAnthropicClient(request)) return { object: 'list' as const, data: cards }
        set.headers['request-id'] = requestIdOf(set)
        return toAnthropicModelPage(cards, {
          limit: intQuery(query.limit, 'limit', 1, PAGE_LIMIT.max) ?? PAGE_LIMIT.default,
          afterId: query.after_id || undefined,
          beforeId: query.before_id || undefined,
        })
      },
      { detail: { tags: ['OpenAI', 'Anthropic'], summary: 'Models served by at least one healthy engine (Anthropic pages with anthropic-version)' } },
    )
    .get(
      '/v1/models/*',
      ({ params, request, set }) => {
        const id = decodeModelId(params['*'])
        const card = visibleTo(request)(id) ? registry.listModels().find((m) => m.id === id) : undefined
        if (!card) throw modelNotFound(id)
        if (!fromAnthropicClient(request)) return card
        set.headers['request-id'] = requestIdOf(set)
        return toAnthropicModel(card)
      },
      { detail: { tags: ['OpenAI', 'Anthropic'], summary: 'One model (ids may contain slashes)' } },
    )
}

/** Model ids arrive percent-encoded by the SDKs (`org%2Fname`); a malformed escape is kept as sent. */
function decodeModelId(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}
