// The config file's schema (YAML or JSON): snake_case keys, every one optional. config.ts merges it
// with flags, environment and defaults into the typed Config.
import { Type, type Static } from '@sinclair/typebox'
import { SCHEDULING_POLICIES } from '../control-plane/admission-queue'
import { ROUTING_STRATEGIES } from '../control-plane/routing'

/** setTimeout's ceiling (2^31 - 1 ms): longer timeouts would fire at once. */
export const MAX_SECONDS = 2147483

const seconds = (options: { exclusiveMinimum?: number; minimum?: number }) =>
  Type.Number({
    ...options,
    maximum: MAX_SECONDS,
    description: `seconds, ${options.exclusiveMinimum !== undefined ? `more than ${options.exclusiveMinimum}` : `at least ${options.minimum ?? 0}`} and at most ${MAX_SECONDS}`,
  })

export const EngineEntry = Type.Union(
  [
    Type.String(),
    Type.Object(
      {
        url: Type.String(),
        engine_id: Type.Optional(Type.String({ minLength: 1 })),
        engine_kind: Type.Optional(Type.String({ minLength: 1 })),
        model_id: Type.Optional(Type.String({ minLength: 1 })),
        api_key: Type.Optional(Type.String()),
        weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
        max_concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
        api: Type.Optional(Type.Union([Type.Literal('openai'), Type.Literal('anthropic')], { description: "'openai' or 'anthropic'" })),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'an engine URL, or an object with url and optional engine_id, engine_kind, model_id, api_key, weight, max_concurrency, api',
  },
)

const strategy = Type.Union(
  ROUTING_STRATEGIES.map((s) => Type.Literal(s)),
  { description: ROUTING_STRATEGIES.join(', ') },
)
const section = <T extends Parameters<typeof Type.Object>[0]>(fields: T) =>
  Type.Optional(Type.Object(fields, { additionalProperties: false }))

export const ConfigFileSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    db: Type.Optional(Type.String({ minLength: 1 })),
    engines: Type.Optional(Type.Array(EngineEntry)),
    mock: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          models: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
          chunk_delay_ms: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_SECONDS * 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    log_level: Type.Optional(Type.String()),
    request_timeout_seconds: Type.Optional(seconds({ exclusiveMinimum: 0 })),
    max_body_bytes: Type.Optional(Type.Integer({ minimum: 1 })),
    drain_timeout_seconds: Type.Optional(seconds({ minimum: 0 })),
    health: Type.Optional(
      Type.Object(
        {
          interval_seconds: Type.Optional(seconds({ exclusiveMinimum: 0 })),
          timeout_seconds: Type.Optional(seconds({ exclusiveMinimum: 0 })),
          failure_threshold: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    routing: section({
      strategy: Type.Optional(strategy),
      per_model: Type.Optional(Type.Record(Type.String({ minLength: 1 }), strategy)),
      locality: section({
        prefix_chars: Type.Optional(Type.Integer({ minimum: 1 })),
        max_entries: Type.Optional(Type.Integer({ minimum: 1 })),
        imbalance_abs: Type.Optional(Type.Number({ minimum: 0 })),
        imbalance_rel: Type.Optional(Type.Number({ minimum: 1 })),
      }),
    }),
    scheduling: section({
      policy: Type.Optional(Type.Union(SCHEDULING_POLICIES.map((p) => Type.Literal(p)), { description: SCHEDULING_POLICIES.join(', ') })),
      queue_size: Type.Optional(Type.Integer({ minimum: 0 })),
      queue_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SECONDS * 1000 })),
    }),
    retries: section({
      max: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      backoff_base_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SECONDS * 1000 })),
      backoff_max_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SECONDS * 1000 })),
    }),
    circuit_breaker: section({
      failure_threshold: Type.Optional(Type.Integer({ minimum: 1 })),
      cooldown_seconds: Type.Optional(seconds({ exclusiveMinimum: 0 })),
    }),
    sessions: section({
      ttl_minutes: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: 'minutes >= 0 (0 = never expire)' })),
      max_history_messages: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    }),
    admin_key: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters' })),
    auth: section({
      api_keys: Type.Optional(Type.Array(Type.String({ minLength: 16, description: 'at least 16 characters' }), { description: 'a list of keys, each at least 16 characters' })),
      metrics_public: Type.Optional(Type.Boolean()),
      docs_public: Type.Optional(Type.Boolean()),
    }),
    limits: section({
      max_messages: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
      max_string_chars: Type.Optional(Type.Integer({ minimum: 1 })),
      max_json_depth: Type.Optional(Type.Integer({ minimum: 2, maximum: 10_000 })),
      // Bun itself refuses headers over 16 KiB with a bare 431 before the gateway sees them.
      max_header_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16_000, description: 'an integer from 1024 to 16000 (Bun refuses larger headers itself)' })),
    }),
    cors: section({
      allow_origins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'a list of origins such as https://app.example, or "*"' })),
      max_age_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
    }),
    usage: section({
      flush_interval_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
    }),
  },
  { additionalProperties: false },
)
export type ConfigFile = Static<typeof ConfigFileSchema>

interface SchemaLike {
  description?: string
  anyOf?: SchemaLike[]
}

/** A schema's description; for unions without one, the first member's that has one. */
export function describeSchema(schema: SchemaLike | undefined): string | undefined {
  if (!schema) return undefined
  return schema.description ?? schema.anyOf?.map(describeSchema).find(Boolean)
}
