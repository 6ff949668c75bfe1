// GET / and GET /health in the original gateway's shapes, plus each engine's state in /health.
// Health stays "healthy" with zero engines: it reports the gateway, not the fleet.
import { Elysia } from 'elysia'
import type { EngineRegistry } from '../control-plane/engine-registry'
import type { SessionStats } from '../sessions/session-repository'

export interface HealthDeps {
  readonly version: string
  readonly registry: EngineRegistry
  readonly sessionStats: () => SessionStats
  readonly startedAt: Date
}

export const ENDPOINTS = {
  health: '/health',
  models: '/v1/models',
  chat_completions: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  messages: '/v1/messages',
  count_tokens: '/v1/messages/count_tokens',
  management: '/v1/management',
  metrics: '/metrics',
  stats: '/v1/stats',
  sessions: '/sessions',
  docs: '/swagger',
  openapi: '/swagger/json',
} as const

export function healthRoutes({ version, registry, sessionStats, startedAt }: HealthDeps) {
  return new Elysia({ name: 'health' })
    .get('/', () => ({ service: 'sageLLM Gateway', version, endpoints: ENDPOINTS }), {
      detail: { tags: ['Gateway'], summary: 'Service name, version and endpoints' },
    })
    .get(
      '/health',
      () => ({
        status: 'healthy' as const,
        version,
        uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        sessions: sessionStats(),
        engines: registry.all.map((e) => e.describe()),
      }),
      { detail: { tags: ['Gateway'], summary: 'Gateway health, session counts and per-engine state' } },
    )
}
