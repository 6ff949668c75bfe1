// CORS, off unless origins are listed (cors.allow_origins): a listed origin gets its own origin
// echoed back with the headers a browser client of the OpenAI/Anthropic APIs needs; preflights are
// answered here, before authentication (browsers send them without credentials).
import { Elysia } from 'elysia'
import { ROUTE_HEADERS } from '../control-plane/route-hints'
import { ApiError, ERROR_CODES } from '../errors'

export interface CorsConfig {
  /** Origins allowed to call from a browser; "*" allows any. Empty: CORS off. */
  readonly allowOrigins: readonly string[]
  readonly maxAgeSeconds: number
}

const ALLOW_METHODS = 'GET, POST, PATCH, DELETE, OPTIONS'
const ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-api-key',
  'x-request-id',
  ...Object.values(ROUTE_HEADERS),
  'anthropic-version',
  'anthropic-beta',
  'anthropic-dangerous-direct-browser-access',
  'openai-organization',
  'openai-project',
  'traceparent',
  'tracestate',
].join(', ')
const EXPOSE_HEADERS = [
  'x-request-id',
  'request-id',
  'retry-after',
  'x-should-retry',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
].join(', ')

export function cors(config: CorsConfig) {
  const anyOrigin = config.allowOrigins.includes('*')
  const listed = new Set(config.allowOrigins)
  const allowed = (origin: string) => anyOrigin || listed.has(origin)
  return new Elysia({ name: 'cors' })
    .onRequest(({ request, set }) => {
      if (!config.allowOrigins.length) return
      const origin = request.headers.get('origin')
      const preflight = request.method === 'OPTIONS' && request.headers.has('access-control-request-method')
      if (!origin) return
      if (!allowed(origin)) {
        if (!preflight) return
        // Through the error handler: the route's own envelope (Anthropic's on /v1/messages), no CORS headers.
        throw new ApiError(403, `Origin '${origin.slice(0, 200)}' is not allowed to call this gateway (cors.allow_origins)`, 'permission_error', ERROR_CODES.permissionDenied)
      }
      set.headers['access-control-allow-origin'] = origin
      set.headers.vary = 'Origin'
      if (!preflight) {
        set.headers['access-control-expose-headers'] = EXPOSE_HEADERS
        return
      }
      return new Response(null, {
        status: 204,
        headers: {
          'access-control-allow-origin': origin,
          vary: 'Origin',
          'access-control-allow-methods': ALLOW_METHODS,
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': String(config.maxAgeSeconds),
        },
      })
    })
    .as('global')
}
