// Per-request plumbing every route shares: the `x-request-id` on every answer (the client's when
// it sent a well-formed one), the header size limit, and JSON body parsing bounded by
// --max-body-bytes and the body limits (depth, string length, message count).
import { Elysia } from 'elysia'
import { ApiError, ERROR_CODES, invalidJson, invalidRequest, payloadTooLarge } from '../errors'
import { CLIENT_ID } from '../schemas/session-id'
import { checkBodyLimits, type BodyLimits } from './body-limits'
import { pathOf } from './request-path'


export interface RequestLimits extends BodyLimits {
  readonly maxBodyBytes: number
  readonly maxHeaderBytes: number
}

/** Routes whose body may be any JSON value (an import may be a bare list); every other takes an object. */
const ANY_JSON_PATHS = new Set(['/sessions/import'])

/** Routes whose body text may go on to the engine as it came (their schemas keep every field). */
const SENT_ON_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings'])

/** Routes whose `messages` is a conversation for an engine, held to limits.max_messages. */
const CONVERSATION_PATHS = new Set(['/v1/chat/completions', '/v1/messages', '/v1/messages/count_tokens'])

export function requestContext(limits: RequestLimits) {
  return new Elysia({ name: 'request-context' })
    .onRequest(({ request, set }) => {
      const given = request.headers.get('x-request-id')
      set.headers['x-request-id'] = given && CLIENT_ID.test(given) ? given : crypto.randomUUID()
      const headerBytes = sizeOfHeaders(request.headers)
      if (headerBytes > limits.maxHeaderBytes)
        throw new ApiError(431, `Request headers take ${headerBytes} bytes; this gateway accepts at most ${limits.maxHeaderBytes} (limits.max_header_bytes)`, 'invalid_request_error', ERROR_CODES.headersTooLarge)
    })
    .onParse({ as: 'global' }, async ({ request }) => {
      // Every body is read as JSON, whatever its content type claims: each API of the gateway takes
      // JSON, and no other parser gets to read a body past the size limit.
      // A bodiless call (curl -X DELETE, POST /sessions) has no content type: it is an empty object,
      // so routes whose fields are all optional take it and the others name the first missing field.
      if (!request.headers.get('content-type') && !request.body) return {}
      const path = pathOf(request)
      const body = await parseJsonBody(request, limits.maxBodyBytes, ANY_JSON_PATHS.has(path), SENT_ON_PATHS.has(path))
      checkBodyLimits(body, limits, CONVERSATION_PATHS.has(path))
      return body
    })
    .as('global')
}

/** The JSON text of bodies that may go on to the engine, until their handler takes it. */
const bodyTexts = new WeakMap<Request, string>()

/**
 * The JSON text of the request's body as the client sent it, handed over once (undefined after, or
 * on other routes). The route's validated body equals it field for field: the OpenAI inference
 * routes' schemas keep every field.
 */
export function takeJsonText(request: Request): string | undefined {
  const text = bodyTexts.get(request)
  if (text !== undefined) bodyTexts.delete(request)
  return text
}

/** `keepText`: keep the text for takeJsonText. */
export async function parseJsonBody(request: Request, limit: number, anyJson = false, keepText = false): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (declared > limit) throw payloadTooLarge(limit)
  const text = Number.isFinite(declared) ? await request.text() : await readBounded(request, limit)
  if (text.length > limit && Buffer.byteLength(text) > limit) throw payloadTooLarge(limit)
  if (!text.trim()) throw invalidJson('the body is empty')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (e) {
    throw invalidJson((e as Error).message)
  }
  // Every JSON API of the gateway takes an object; say so rather than report its fields missing.
  if (anyJson) return body
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidRequest(`Request body must be a JSON object, not ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`)
  if (keepText) bodyTexts.set(request, text)
  return body
}

function sizeOfHeaders(headers: Headers): number {
  // forEach, not for…of: no [name, value] pair allocated per header.
  let size = 0
  headers.forEach((value, name) => (size += name.length + value.length + 4))
  return size
}

/** Reads a body of unknown length (chunked), giving up as soon as it passes the limit. */
async function readBounded(request: Request, limit: number): Promise<string> {
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body) {
    size += chunk.byteLength
    if (size > limit) throw payloadTooLarge(limit)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The handler's Response carries x-request-id itself. Elysia copies headers left in `set` into a
 * second Response; with none left, the handler's goes out as it is.
 */
export function carriedByResponse(set: { headers: Record<string, unknown> }): void {
  delete set.headers['x-request-id']
}

/** Lifts Bun's idle timeout off a request's connection (a generation may be silent for longer). */
export type HoldOpen = (request: Request) => void

/** The request id chosen in onRequest, for handlers and logs. */
export function requestIdOf(set: { headers: Record<string, unknown> }): string {
  return String(set.headers['x-request-id'])
}
