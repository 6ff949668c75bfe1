// Virtual keys and usage (`/v1/management/keys`, `/v1/management/usage`): admin-only. A create
// answers the secret once, as `key`, next to the key's record; nothing else ever shows it.
import { Elysia } from 'elysia'
import type { AccessControl } from '../auth/access-control'
import { toKeyRecord } from '../auth/api-keys'
import type { KeyFields } from '../auth/key-service'
import { invalidRequest } from '../errors'
import { CreateKeyBody, keyModels, PatchKeyBody, UsageQuery, type PatchKey } from '../schemas/keys'
import type { AdminCheckContext } from './auth'
import { rejectUnknownFields } from './params'

const PREFIX = '/v1/management'
const tags = ['Management']

export function keyRoutes(access: AccessControl, requireAdmin: (context: AdminCheckContext) => void) {
  const { keys } = access
  // transform runs before validation: a caller without the admin key learns that first.
  const guarded = { transform: requireAdmin }
  return new Elysia({ name: 'keys' })
    .model(keyModels)
    .post(
      `${PREFIX}/keys`,
      ({ body }) => {
        const { key, secret } = keys.create({ ...keyFields(body), name: body.name })
        return { ...toKeyRecord(key), key: secret }
      },
      { transform: [requireAdmin, rejectUnknownFields(CreateKeyBody)], body: 'keys.create', detail: { tags, summary: 'Issue a virtual key: {name, models?, rpm?, tpm?, max_concurrency?, expires_at?}; the answer holds the secret as `key`, shown only this once' } },
    )
    .get(`${PREFIX}/keys`, () => {
      const list = keys.list().map(toKeyRecord)
      return { keys: list, count: list.length }
    }, { ...guarded, detail: { tags, summary: 'Every virtual key (records only, never secrets)' } })
    .get(`${PREFIX}/keys/:id`, ({ params }) => toKeyRecord(keys.get(params.id)), { ...guarded, detail: { tags, summary: 'One virtual key' } })
    .patch(`${PREFIX}/keys/:id`, ({ params, body }) => toKeyRecord(keys.update(params.id, keyFields(body))), {
      transform: [requireAdmin, rejectUnknownFields(PatchKeyBody)],
      body: 'keys.patch',
      detail: { tags, summary: 'Change a key: name, models, rpm, tpm, max_concurrency, expires_at (null clears); applies to the next request' },
    })
    .delete(`${PREFIX}/keys/:id`, ({ params }) => {
      const deleted = keys.delete(params.id)
      access.forget(params.id)
      return deleted
    }, { ...guarded, detail: { tags, summary: 'Delete a key; it stops working at once' } })
    .post(`${PREFIX}/keys/:id/revoke`, ({ params }) => toKeyRecord(keys.revoke(params.id)), { ...guarded, detail: { tags, summary: 'Revoke a key (kept for the record); it stops working at once' } })
    .get(
      `${PREFIX}/usage`,
      ({ query }) => {
        const rows = access.usage.report({ keyId: query.key || undefined, model: query.model || undefined, from: dayOf(query.from, 'from'), to: dayOf(query.to, 'to') })
        const data = rows.map((row) => ({ ...row, key_name: keys.nameOf(row.key_id) ?? null }))
        const totals = { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0 }
        for (const row of rows) {
          totals.requests += row.requests
          totals.errors += row.errors
          totals.input_tokens += row.input_tokens
          totals.output_tokens += row.output_tokens
        }
        return { data, totals }
      },
      { ...guarded, query: UsageQuery, detail: { tags, summary: 'Requests, errors and tokens per key, model, engine and UTC day; filters key, model, from, to (YYYY-MM-DD or ISO date-time, inclusive)' } },
    )
}

function keyFields(body: PatchKey): KeyFields {
  return {
    name: body.name,
    models: body.models,
    rpm: body.rpm,
    tpm: body.tpm,
    maxConcurrency: body.max_concurrency,
    expiresAt: body.expires_at === undefined || body.expires_at === null ? body.expires_at : isoTime(body.expires_at),
  }
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i

/** An ISO 8601 date-time with its offset, as UTC; anything else is a 400 naming expires_at. */
function isoTime(raw: string): string {
  const at = Date.parse(raw)
  if (!ISO_DATE_TIME.test(raw) || Number.isNaN(at))
    throw invalidRequest(`Invalid value for 'expires_at': expected an ISO 8601 date-time with an offset such as 2026-12-31T23:59:59Z (got '${raw.slice(0, 64)}')`, 'expires_at')
  return new Date(at).toISOString()
}

/** A usage filter bound: YYYY-MM-DD, or an ISO date-time taken as its UTC day. */
function dayOf(raw: string | undefined, name: 'from' | 'to'): string | undefined {
  if (raw === undefined || raw === '') return undefined
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw) && !Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) return raw
  if (ISO_DATE_TIME.test(raw) && !Number.isNaN(Date.parse(raw))) return new Date(Date.parse(raw)).toISOString().slice(0, 10)
  throw invalidRequest(`Invalid value for '${name}': expected a date (YYYY-MM-DD) or an ISO 8601 date-time (got '${raw.slice(0, 64)}')`, name)
}
