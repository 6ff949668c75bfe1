// TypeBox models of the virtual key API (`/v1/management/keys`) and the usage report's query.
import { Type } from '@sinclair/typebox'
import { t, type Static } from 'elysia'

const limit = (what: string) => t.Nullable(Type.Integer({ minimum: 1, maximum: 1e12, description: `${what}: an integer >= 1, or null for no limit` }))

const fields = {
  name: t.String({ minLength: 1, maxLength: 128, description: 'a name of 1 to 128 characters' }),
  models: t.Nullable(t.Array(t.String({ minLength: 1, maxLength: 256 }), { maxItems: 10_000, description: 'a list of model ids (an id ending in * matches by prefix), or null for every model' })),
  rpm: limit('Requests per minute'),
  tpm: limit('Tokens per minute'),
  max_concurrency: limit('Requests in flight at once'),
  expires_at: t.Nullable(t.String({ description: 'an ISO 8601 date-time such as 2026-12-31T23:59:59Z, or null' })),
}

export const CreateKeyBody = t.Object(
  {
    name: fields.name,
    models: t.Optional(fields.models),
    rpm: t.Optional(fields.rpm),
    tpm: t.Optional(fields.tpm),
    max_concurrency: t.Optional(fields.max_concurrency),
    expires_at: t.Optional(fields.expires_at),
  },
  { additionalProperties: false },
)

/** Any of the create fields; null clears a limit, the model list or the expiry. */
export const PatchKeyBody = t.Partial(CreateKeyBody, { additionalProperties: false })

export const UsageQuery = t.Object({
  key: t.Optional(t.String()),
  model: t.Optional(t.String()),
  from: t.Optional(t.String()),
  to: t.Optional(t.String()),
})

export const keyModels = {
  'keys.create': CreateKeyBody,
  'keys.patch': PatchKeyBody,
}

export type CreateKey = Static<typeof CreateKeyBody>
export type PatchKey = Static<typeof PatchKeyBody>
