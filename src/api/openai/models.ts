// GET /v1/models and /v1/models/{id}: the models some READY engine serves, one entry per id.
import { Elysia } from 'elysia'
import type { EngineRegistry } from '../../control-plane/engine-registry'
import { modelNotFound } from '../../errors'

/** Which models a request's key may see (all, or those of its `models` list). */
export type ModelFilterOf = (request: Request) => (model: string) => boolean

export function openAIModelRoutes(registry: EngineRegistry, visibleTo: ModelFilterOf) {
  return new Elysia({ name: 'openai-models' })
    .get('/v1/models', ({ request }) => {
      const visible = visibleTo(request)
      return { object: 'list' as const, data: registry.listModels().filter((m) => visible(m.id)) }
    }, {
      detail: { tags: ['OpenAI'], summary: 'Models served by at least one healthy engine' },
    })
    .get(
      '/v1/models/*',
      ({ params, request }) => {
        const id = decodeModelId(params['*'])
        const card = visibleTo(request)(id) ? registry.listModels().find((m) => m.id === id) : undefined
        if (!card) throw modelNotFound(id)
        return card
      },
      { detail: { tags: ['OpenAI'], summary: 'One model (ids may contain slashes)' } },
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
