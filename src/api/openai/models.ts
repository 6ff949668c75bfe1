// GET /v1/models and /v1/models/{id}: the models some READY engine serves, one entry per id.
import { Elysia } from 'elysia'
import type { EngineRegistry } from '../../control-plane/engine-registry'
import { modelNotFound } from '../../errors'

export function openAIModelRoutes(registry: EngineRegistry) {
  return new Elysia({ name: 'openai-models' })
    .get('/v1/models', () => ({ object: 'list' as const, data: registry.listModels() }), {
      detail: { tags: ['OpenAI'], summary: 'Models served by at least one healthy engine' },
    })
    .get(
      '/v1/models/*',
      ({ params }) => {
        const id = decodeModelId(params['*'])
        const card = registry.listModels().find((m) => m.id === id)
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
