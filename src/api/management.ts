// The management API (`/v1/management`): see and steer the fleet. Reads need what every route needs
// (a key, once keys are required); calls that change the fleet need the admin key, or, with no admin
// key configured, a loopback client.
import type { TObject } from '@sinclair/typebox'
import { Elysia } from 'elysia'
import { ConfigError, normaliseEngineUrl } from '../config-values'
import type { EngineAdmin } from '../control-plane/engine-admin'
import type { EngineRegistry } from '../control-plane/engine-registry'
import type { Router } from '../control-plane/router'
import { ApiError, ERROR_CODES, invalidRequest } from '../errors'
import type { AdminCheckContext } from './auth'
import { boolQuery, objectField, rejectUnknownFields, withoutNulls, type WithoutNulls } from './params'
import { managementModels, PatchEngineBody, RegisterEngineBody, type RegisterEngine } from '../schemas/management'

export interface ManagementDeps {
  readonly registry: EngineRegistry
  readonly router: Router
  readonly admin: EngineAdmin
  readonly requireAdmin: (context: AdminCheckContext) => void
  readonly routing: { readonly strategy: string; readonly perModel: Readonly<Record<string, string>> }
  readonly schedulingPolicy: string
}

const PREFIX = '/v1/management'

export function managementRoutes({ registry, router, admin, requireAdmin, routing, schedulingPolicy }: ManagementDeps) {
  const engineOr404 = (id: string) => {
    const engine = registry.get(id)
    if (!engine) throw new ApiError(404, `No engine with engine_id '${id}' is registered`, 'not_found_error', ERROR_CODES.notFound, 'engine_id')
    return engine
  }
  const status = () => {
    const engines = registry.all
    return {
      control_plane: {
        running: true,
        scheduling_policy: schedulingPolicy,
        routing_strategy: routing.strategy,
        routing_per_model: routing.perModel,
        pending_requests: router.pendingRequests,
        running_requests: engines.reduce((sum, e) => sum + e.activeRequests, 0),
        registered_instances: engines.length,
        ready_instances: engines.filter((e) => e.state === 'READY').length,
      },
      engines: engines.map((e) => ({ ...e.describe(), load: e.maxConcurrency ? e.activeRequests / e.maxConcurrency : null })),
    }
  }
  // transform runs before validation: a caller without the key learns that first, not about its body.
  const guarded = { transform: requireAdmin }
  const guardedBody = (schema: TObject) => ({ transform: [requireAdmin, rejectUnknownFields(schema)] })
  return new Elysia({ name: 'management' })
    .model(managementModels)
    .get(PREFIX, () => ({
      service: 'sageLLM Gateway control plane',
      status: 'running',
      endpoints: {
        register: `POST ${PREFIX}/engines/register`,
        engines: `GET ${PREFIX}/engines`,
        engine: `GET|PATCH|DELETE ${PREFIX}/engines/{engine_id}`,
        prune: `POST ${PREFIX}/engines/prune`,
        status: `GET ${PREFIX}/status`,
        keys: `GET|POST ${PREFIX}/keys`,
        key: `GET|PATCH|DELETE ${PREFIX}/keys/{id}`,
        revoke: `POST ${PREFIX}/keys/{id}/revoke`,
        usage: `GET ${PREFIX}/usage`,
      },
    }), { detail: { tags: ['Management'], summary: 'Control plane service, status and endpoints' } })
    .get(`${PREFIX}/status`, status, { detail: { tags: ['Management'], summary: 'Control plane status: strategy, policy, queue, per-engine load' } })
    .get(`${PREFIX}/engines`, () => {
      const engines = registry.all.map((e) => e.describe())
      return { engines, count: engines.length }
    }, { detail: { tags: ['Management'], summary: 'Every registered engine' } })
    // 200, as the original control plane answered (its clients check for it), not 201.
    .post(`${PREFIX}/engines/register`, async ({ body }) => (await admin.register(registerInput(withoutNulls(body)))).describe(), { ...guardedBody(RegisterEngineBody), body: 'management.register', detail: { tags: ['Management'], summary: 'Register an engine (checked at once, persisted; 409 on a duplicate id or URL)' } })
    .post(`${PREFIX}/engines/prune`, () => {
      const removed = admin.prune()
      return { removed, count: removed.length }
    }, { ...guarded, detail: { tags: ['Management'], summary: 'Remove every STOPPED and ERROR engine' } })
    .get(`${PREFIX}/engines/:engine_id`, ({ params }) => engineOr404(params.engine_id).describe(), {
      detail: { tags: ['Management'], summary: 'One engine' },
    })
    .patch(`${PREFIX}/engines/:engine_id`, async ({ params, body }) => {
      const engine = await admin.update(engineOr404(params.engine_id), {
        weight: body.weight,
        maxConcurrency: body.max_concurrency,
        metadata: objectField(body.metadata, 'metadata'),
        state: body.state,
      })
      return engine.describe()
    }, { ...guardedBody(PatchEngineBody), body: 'management.patch', detail: { tags: ['Management'], summary: 'Change weight, max_concurrency, metadata, or state (DRAINING / READY)' } })
    .delete(`${PREFIX}/engines/:engine_id`, ({ params, query }) => admin.remove(engineOr404(params.engine_id), parseDrain(query.drain)), {
      ...guarded,
      detail: { tags: ['Management'], summary: 'Remove an engine; ?drain=true (default) waits for its in-flight requests first' },
    })
}

function registerInput(body: WithoutNulls<RegisterEngine>) {
  if (body.url === undefined && (body.host === undefined || body.port === undefined))
    throw invalidRequest('Give the engine as url, or as host and port', body.host === undefined ? 'host' : 'port')
  if (body.url !== undefined && (body.host !== undefined || body.port !== undefined))
    throw invalidRequest('Give the engine as url or as host and port, not both', 'url')
  let baseUrl: string
  try {
    const raw = body.url ?? `http://${body.host!.includes(':') ? `[${body.host}]` : body.host}:${body.port}`
    baseUrl = normaliseEngineUrl(raw, body.url !== undefined ? 'url' : 'host')
  } catch (e) {
    if (e instanceof ConfigError) throw invalidRequest(e.message, body.url !== undefined ? 'url' : 'host')
    throw e
  }
  return {
    engineId: body.engine_id ?? new URL(baseUrl).host,
    baseUrl,
    modelId: body.model_id,
    engineKind: body.engine_kind ?? 'llm',
    api: body.api ?? 'openai',
    weight: body.weight ?? 1,
    maxConcurrency: body.max_concurrency ?? undefined,
    metadata: objectField(body.metadata, 'metadata') ?? {},
  } as const
}

function parseDrain(raw: string | undefined): boolean {
  return boolQuery(raw, 'drain') ?? true
}
