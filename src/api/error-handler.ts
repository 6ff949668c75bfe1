// The global error plugin, registered first: whatever a handler, parser or validator throws becomes
// one answer in the API's own envelope (Anthropic's on /v1/messages and to Anthropic clients of
// /v1/models, OpenAI's elsewhere), never a bare 500.
import { Elysia, ParseError, ValidationError } from 'elysia'
import { ClientGone } from '../engines/engine-client'
import {
  anthropicStatus,
  ApiError,
  internalError,
  invalidJson,
  invalidRequest,
  retryableOf,
  routeNotFound,
  toAnthropicErrorBody,
  toOpenAIErrorBody,
} from '../errors'
import type { Logger } from '../telemetry/logger'
import type { RequestTelemetry } from '../telemetry/request-telemetry'
import { speaksAnthropic } from './dialect'
import { pathOf } from './request-path'

export function errorHandler(log: Logger, telemetry?: RequestTelemetry) {
  return new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, ({ code, error, request, set, route }) => {
    const record = telemetry?.recordOf(request)
    if (error instanceof ClientGone) {
      record?.failed(499, 'client_closed_request')
      telemetry?.answered(request, route, set.status)
      return new Response(null, { status: 499 })
    }
    const apiError = toApiError(code, error, request)
    record?.failed(apiError.httpStatus, apiError.errorCode)
    telemetry?.answered(request, route, set.status)
    if (apiError.httpStatus >= 500 && !(error instanceof ApiError))
      log.error('unhandled error', { request_id: set.headers['x-request-id'], error: String(error), stack: (error as Error)?.stack })
    const anthropic = speaksAnthropic(request)
    const body = anthropic ? toAnthropicErrorBody(apiError) : toOpenAIErrorBody(apiError)
    // Anthropic's SDKs read the request id from `request-id` (error.requestID); OpenAI's from x-request-id.
    const requestId = anthropic ? { 'request-id': String(set.headers['x-request-id']) } : {}
    // Both SDKs retry what this header says over their own rule (which would retry a 409 or a 501).
    const retry = { 'x-should-retry': String(retryableOf(apiError)) }
    return new Response(JSON.stringify(body), {
      status: anthropic ? anthropicStatus(apiError.httpStatus) : apiError.httpStatus,
      headers: { 'content-type': 'application/json', ...requestId, ...retry, ...apiError.headers },
    })
  })
}

function toApiError(code: string | number, error: unknown, request: Request): ApiError {
  if (error instanceof ApiError) return error
  if (error instanceof ParseError) {
    const cause = (error as Error).cause
    return cause instanceof ApiError ? cause : invalidJson(cause instanceof Error ? cause.message : 'unreadable body')
  }
  if (error instanceof ValidationError) return fromValidation(error)
  if (code === 'NOT_FOUND') return routeNotFound(request.method, pathOf(request))
  return internalError()
}

/** The first schema violation, as OpenAI reports one: a message and the offending field as `param`. */
function fromValidation(error: ValidationError): ApiError {
  const first = error.all[0] as { path?: string; message?: string; value?: unknown; schema?: SchemaLike } | undefined
  const pointer = first?.path ?? ''
  const param = pointer
    .split('/')
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('')
  if (!param) return invalidRequest('Request body must be a JSON object')
  if (first?.value === undefined) return invalidRequest(`Missing required parameter: '${param}'`, param)
  const expected = describe(first.schema) ?? first.message ?? 'invalid value'
  return invalidRequest(`Invalid value for '${param}': ${expected} (got ${preview(first.value)})`, param)
}

interface SchemaLike {
  description?: string
  anyOf?: SchemaLike[]
}

/** A schema's description; for nullable or union fields, the first member's that has one. */
function describe(schema: SchemaLike | undefined): string | undefined {
  if (!schema) return undefined
  return schema.description ?? schema.anyOf?.map(describe).find(Boolean)
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}
