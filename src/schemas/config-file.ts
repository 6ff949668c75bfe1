// The config file's schema (YAML or JSON): snake_case keys, every one optional. config.ts merges it
// with flags, environment and defaults into the typed Config.
import { Type, type Static } from '@sinclair/typebox'

/** setTimeout's ceiling (2^31 - 1 ms): longer timeouts would fire at once. */
export const MAX_SECONDS = 2147483

const seconds = (options: { exclusiveMinimum?: number; minimum?: number }) =>
  Type.Number({ ...options, maximum: MAX_SECONDS, description: `seconds, at most ${MAX_SECONDS}` })

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
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'an engine URL, or an object with url and optional engine_id, engine_kind, model_id, api_key' },
)

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
        },
        { additionalProperties: false },
      ),
    ),
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
