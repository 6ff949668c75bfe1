// Checks Elysia's schemas cannot make with a useful answer: numbers in query strings (an out-of-range
// t.Numeric is reported without its name) and free-form objects (Elysia reshapes a string or list
// given for a t.Record into an object before validating it). Each failure is a 400 naming the field.
import type { TObject } from '@sinclair/typebox'
import { invalidRequest } from '../errors'

/** An optional integer query parameter within [min, max]. */
export function intQuery(raw: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw invalidRequest(`Invalid value for '${name}': expected an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`} (got '${raw}')`, name)
  return n
}

/** An optional number query parameter within [min, max]. */
export function numberQuery(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) throw invalidRequest(`Invalid value for '${name}': expected a number from ${min} to ${max} (got '${raw}')`, name)
  return n
}

/**
 * An optional boolean query parameter, read as FastAPI (the original gateway) reads one: true, 1, yes,
 * on, t, y or false, 0, no, off, f, n in any case, so Python's `requests` sending `True` is understood.
 */
export function boolQuery(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined || raw === '') return undefined
  const value = BOOLEANS.get(raw.trim().toLowerCase())
  if (value === undefined) throw invalidRequest(`Invalid value for '${name}': expected true or false (got '${raw}')`, name)
  return value
}

const BOOLEANS = new Map([
  ...['true', '1', 'yes', 'on', 't', 'y'].map((word) => [word, true] as const),
  ...['false', '0', 'no', 'off', 'f', 'n'].map((word) => [word, false] as const),
])

/** An optional JSON object field (free-form metadata); null is "not given", as Python clients send None. */
export function objectField(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidRequest(`Invalid value for '${name}': expected a JSON object (got ${Array.isArray(value) ? 'a list' : typeof value})`, name)
  return value as Record<string, unknown>
}

/**
 * Elysia drops body fields a schema does not name before validating; on an API where it matters a
 * misspelt field (`wieght`) must be an error, not a change that silently did nothing.
 */
export function rejectUnknownFields(schema: TObject, nested: readonly string[] = []) {
  return ({ body }: { body: unknown }) => {
    checkKnown(body, schema, '')
    for (const key of nested) {
      const inner = schema.properties[key] as TObject | undefined
      const value = (body as Record<string, unknown> | null)?.[key]
      if (inner?.properties) checkKnown(value, inner, `${key}.`)
    }
  }
}

/** The object without its null-valued fields: an optional field sent as null (Python's None) is one not given. */
export function withoutNulls<T extends object>(body: T): WithoutNulls<T> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) if (value !== null) out[key] = value
  return out as WithoutNulls<T>
}

export type WithoutNulls<T> = { [K in keyof T]: Exclude<T[K], null> }

function checkKnown(value: unknown, schema: TObject, prefix: string): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return
  const known = Object.keys(schema.properties)
  const unknown = Object.keys(value).find((key) => !known.includes(key))
  if (unknown !== undefined) throw invalidRequest(`Unknown parameter: '${prefix}${unknown}' (accepted: ${known.map((k) => prefix + k).join(', ')})`, prefix + unknown)
}
