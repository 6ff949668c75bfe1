// TypeBox models of the management API's request bodies (`/v1/management`). Names and shapes follow
// the original control plane: register takes {engine_id, model_id, host, port, engine_kind, metadata};
// here a `url` may stand in for host and port, and weight, max_concurrency and api are added.
import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'
import { nullable } from './nullable'

const weight = Type.Number({ exclusiveMinimum: 0, maximum: 1000, description: 'Share of traffic relative to other engines (default 1)' })
const maxConcurrency = Type.Integer({ minimum: 1, description: 'Most requests in flight to it at once (default unlimited)' })
// Checked as an object by the controller: Elysia would reshape a string or list into one.
const metadata = t.Unknown({ description: 'A free-form object of operator data, shown as given' })

export const RegisterEngineBody = t.Object(
  {
    engine_id: nullable(t.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:#@/-]+$', description: 'Unique id; default host:port' })),
    model_id: nullable(t.String({ minLength: 1, description: 'The model expected there; the served models are discovered' })),
    url: nullable(t.String({ minLength: 1, description: 'OpenAI-compatible base URL (http://h:8000 means http://h:8000/v1); or give host and port' })),
    host: nullable(t.String({ minLength: 1 })),
    port: nullable(Type.Integer({ minimum: 1, maximum: 65535 })),
    engine_kind: nullable(t.String({ minLength: 1, description: 'llm (default), embedding (serves only /v1/embeddings) or free text' })),
    api: nullable(t.Union([t.Literal('openai'), t.Literal('anthropic')])),
    weight: nullable(weight),
    max_concurrency: nullable(maxConcurrency),
    metadata: t.Optional(metadata),
  },
  { additionalProperties: false },
)

export const PatchEngineBody = t.Object(
  {
    weight: t.Optional(weight),
    max_concurrency: nullable(maxConcurrency),
    metadata: t.Optional(metadata),
    state: t.Optional(t.Union([t.Literal('DRAINING'), t.Literal('READY')], { description: 'DRAINING stops new requests; READY re-admits after a health check' })),
  },
  { additionalProperties: false },
)

export const managementModels = {
  'management.register': RegisterEngineBody,
  'management.patch': PatchEngineBody,
}

export type RegisterEngine = Static<typeof RegisterEngineBody>
export type PatchEngine = Static<typeof PatchEngineBody>
