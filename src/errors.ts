// The gateway's error family and the two wire envelopes it renders to.
// Handlers and services throw ApiError; api/error-handler.ts turns any thrown value into
// the OpenAI envelope {error:{message,type,param,code}} or, on Anthropic routes,
// {type:"error",error:{type,message}}. Pure module: no Elysia import.

/** Every `code` the gateway puts in an error body (documented in README). */
export const ERROR_CODES = {
  invalidJson: 'invalid_json',
  invalidArgument: 'invalid_argument',
  payloadTooLarge: 'payload_too_large',
  modelNotFound: 'model_not_found',
  notFound: 'not_found',
  unavailable: 'unavailable',
  engineError: 'engine_error',
  deadlineExceeded: 'deadline_exceeded',
  resourceExhausted: 'resource_exhausted',
  notImplemented: 'not_implemented',
  conflict: 'conflict',
  unauthenticated: 'unauthenticated',
  permissionDenied: 'permission_denied',
  invalidApiKey: 'invalid_api_key',
  modelNotAllowed: 'model_not_allowed',
  rateLimitExceeded: 'rate_limit_exceeded',
  headersTooLarge: 'request_header_fields_too_large',
  internal: 'internal_error',
} as const
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

/** OpenAI error `type` values used by the gateway. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'

export interface OpenAIErrorBody {
  /** OpenAI's fields, and the sageLLM protocol's `retryable` (whether the same request may succeed later). */
  error: { message: string; type: string; param: string | null; code: string | null; retryable: boolean }
}

export interface AnthropicErrorBody {
  type: 'error'
  error: { type: string; message: string }
}

/**
 * An error with a definite HTTP answer. (The HTTP status is `httpStatus` and the protocol code
 * `errorCode`: a field named `code` would collide with Elysia's own error codes.)
 */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
    readonly type: OpenAIErrorType | string,
    readonly errorCode: string | null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: ErrorCode = ERROR_CODES.invalidArgument) =>
  new ApiError(400, message, 'invalid_request_error', code, param)

export const invalidJson = (detail: string) =>
  new ApiError(400, `Request body is not valid JSON: ${detail}`, 'invalid_request_error', ERROR_CODES.invalidJson)

export const payloadTooLarge = (limit: number) =>
  new ApiError(413, `Request body exceeds the limit of ${limit} bytes`, 'invalid_request_error', ERROR_CODES.payloadTooLarge)

export const modelNotFound = (model: string) =>
  new ApiError(404, `The model '${model}' does not exist on this gateway`, 'invalid_request_error', ERROR_CODES.modelNotFound, 'model')

export const routeNotFound = (method: string, path: string) =>
  new ApiError(404, `No route for ${method} ${path}`, 'not_found_error', ERROR_CODES.notFound)

export const noEngine = (model: string, detail: string, headers: Record<string, string> = {}) =>
  new ApiError(503, `No healthy engines serve model '${model}': ${detail}`, 'server_error', ERROR_CODES.unavailable, 'model', headers)

export const enginesFailed = (model: string, detail: string) =>
  new ApiError(502, `Every engine serving model '${model}' failed: ${detail}`, 'server_error', ERROR_CODES.engineError)

export const deadlineExceeded = (model: string, detail: string) =>
  new ApiError(504, `No engine serving model '${model}' answered in time: ${detail}`, 'server_error', ERROR_CODES.deadlineExceeded)

export const internalError = () =>
  new ApiError(500, 'The gateway hit an unexpected error; the request id identifies it in the logs', 'server_error', ERROR_CODES.internal)

export function toOpenAIErrorBody(error: ApiError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.errorCode, retryable: retryableOf(error) } }
}

/** Whether the request of `error` may succeed if sent again: its own x-should-retry header, else isRetryable of its status. */
export function retryableOf(error: ApiError): boolean {
  const said = error.headers['x-should-retry']
  return said === undefined ? isRetryable(error.httpStatus) : said === 'true'
}

/**
 * Whether the same request may succeed if sent again (the sageLLM protocol's `retryable`, and the
 * `x-should-retry` header both SDKs obey): a timeout, a rate limit or a full queue, and a 5xx (no
 * engine now, engines failing, a gateway fault); never a request refused as it is, nor one no engine
 * here can do (501: count_tokens without a tokenizer).
 */
export function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501)
}

/** Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return status === 413 ? 'request_too_large' : 'invalid_request_error'
    case 401:
      return 'authentication_error'
    case 402:
      return 'billing_error'
    case 403:
      return 'permission_error'
    case 404:
    case 501:
      return 'not_found_error'
    case 429:
      return 'rate_limit_error'
    case 503:
    case 529:
      return 'overloaded_error'
    case 504:
      return 'timeout_error'
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error'
  }
}

export function toAnthropicErrorBody(error: ApiError): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(error.httpStatus), message: error.message } }
}

/** Anthropic answers "no capacity" with 529 overloaded_error, which its SDKs retry; the gateway's 503 becomes that. */
export function anthropicStatus(status: number): number {
  return status === 503 ? 529 : status
}
