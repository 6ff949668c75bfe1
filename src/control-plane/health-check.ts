// One health check of one engine: its liveness endpoint (`/health` beside the API prefix) and its
// model list (`{base}/models`), asked together under one timeout. An engine without /health (404/405)
// is judged by its model list alone; a /health that fails or answers 5xx fails the check.
import { describeFailure, EngineError } from '../engines/engine-client'
import type { Engine, ModelCard } from './engine'

export async function checkEngine(engine: Engine, timeoutMs: number): Promise<Map<string, ModelCard>> {
  const signal = AbortSignal.timeout(timeoutMs)
  const headers: Record<string, string> = engine.apiKey ? { authorization: `Bearer ${engine.apiKey}` } : {}
  const init = { headers, signal }
  const call = { signal, clientSignal: new AbortController().signal }
  const get = (url: string) => engine.fetch(url, init).catch((e: unknown) => Promise.reject(describeFailure(e, call)))
  const [health, models] = await Promise.allSettled([
    get(engine.healthUrl).then(async (res) => {
      await res.body?.cancel().catch(() => {})
      if (res.status >= 500) throw new EngineError('http', `GET /health answered HTTP ${res.status}`, res.status)
    }),
    get(`${engine.baseUrl}/models`).then(async (res) => {
      if (!res.ok) {
        await res.body?.cancel().catch(() => {})
        throw new EngineError('http', `GET /models answered HTTP ${res.status}`, res.status)
      }
      const body = (await res.json().catch((e: unknown) => Promise.reject(describeFailure(e, call)))) as { data?: unknown }
      if (!Array.isArray(body?.data)) throw new EngineError('protocol', 'GET /models did not return a model list')
      return toModelCards(body.data, engine.createdAt)
    }),
  ])
  if (health.status === 'rejected') throw health.reason
  if (models.status === 'rejected') throw models.reason
  return models.value
}

function toModelCards(data: unknown[], createdAt: Date): Map<string, ModelCard> {
  const models = new Map<string, ModelCard>()
  for (const m of data as Partial<ModelCard>[]) {
    if (typeof m?.id !== 'string') continue
    models.set(m.id, {
      ...m,
      id: m.id,
      object: 'model',
      created: m.created ?? Math.floor(createdAt.getTime() / 1000),
      owned_by: m.owned_by ?? 'sagellm',
    })
  }
  return models
}
