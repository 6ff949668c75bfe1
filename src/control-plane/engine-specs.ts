// Turns the configured engines (and the built-in mock engine) into registry entries.
import type { Config } from '../config'
import { abortSignalOf, fetchEngine, type EngineFetch } from '../engines/engine-client'
import { createMockEngine } from '../engines/mock-engine'
import type { EngineSpec } from './engine'

/** The mock engine's base URL: never resolved or connected to, it only names the in-process engine. */
export const MOCK_BASE_URL = 'http://mock.sagellm.internal/v1'

export function engineSpecsFromConfig(config: Config, networkFetch: EngineFetch = fetchEngine): EngineSpec[] {
  const specs: EngineSpec[] = []
  const ids = new Set<string>()
  const uniqueId = (wanted: string) => {
    let id = wanted
    for (let n = 2; ids.has(id); n++) id = `${wanted}#${n}`
    ids.add(id)
    return id
  }
  if (config.mock.enabled) {
    const mock = createMockEngine({ models: config.mock.models, chunkDelayMs: config.mock.chunkDelayMs })
    specs.push({ id: uniqueId('mock'), baseUrl: MOCK_BASE_URL, kind: 'llm', source: 'mock', fetch: (url, init) => mock.handle(new Request(url, { ...init, signal: abortSignalOf(init.signal) })) })
  }
  for (const engine of config.engines) {
    specs.push({
      id: uniqueId(engine.engineId ?? new URL(engine.url).host),
      baseUrl: engine.url,
      kind: engine.engineKind,
      apiKey: engine.apiKey,
      modelId: engine.modelId,
      weight: engine.weight,
      maxConcurrency: engine.maxConcurrency,
      api: engine.api,
      source: 'config',
      fetch: networkFetch,
    })
  }
  return specs
}
