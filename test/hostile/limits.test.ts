// The hostile-input limits: body size (--max-body-bytes), and the config file's limits.max_messages,
// max_string_chars, max_json_depth and max_header_bytes, each refused with its status and code in
// OpenAI's envelope (Anthropic's on /v1/messages); and a malformed x-request-id is never echoed.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { expectAnthropicError } from '../helpers/anthropic'
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../helpers/gateway'
import { chatBody, configuredGateway, expectOpenAIError, user, type ConfiguredGateway } from './hostile-fixtures'

const MAX_BODY_BYTES = 4096
const MAX_MESSAGES = 8
const MAX_STRING_CHARS = 1000
const MAX_JSON_DEPTH = 16
const MAX_HEADER_BYTES = 8192
const LIMITS = `limits:\n  max_messages: ${MAX_MESSAGES}\n  max_string_chars: ${MAX_STRING_CHARS}\n  max_json_depth: ${MAX_JSON_DEPTH}\n  max_header_bytes: ${MAX_HEADER_BYTES}\n`

let engine: FakeEngine
let small: ConfiguredGateway
let roomy: ConfiguredGateway
/** Body limit 4096 bytes. */
let gw: TestGateway
/** Body limit 1 MiB, for bodies that are deep rather than long. */
let big: TestGateway

beforeAll(async () => {
  engine = await startFakeEngine({ models: ['fake-model'] })
  small = await configuredGateway(LIMITS, ['--engine', engine.url, '--max-body-bytes', String(MAX_BODY_BYTES)])
  roomy = await configuredGateway(LIMITS, ['--engine', engine.url, '--max-body-bytes', String(1024 * 1024)])
  gw = small.gw
  big = roomy.gw
})
afterAll(async () => {
  await small.stop()
  await roomy.stop()
  await engine.stop()
})

const anthropicBody = (extra: Record<string, unknown> = {}) => ({ model: 'fake-model', max_tokens: 16, messages: [user('hi')], ...extra })
const conversation = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }))
const nested = (depth: number) => {
  let value: unknown = 'leaf'
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

test('a body over --max-body-bytes is a 413 payload_too_large', async () => {
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { messages: [user('x'.repeat(MAX_BODY_BYTES))] }))
  const error = await expectOpenAIError(res, 413)
  expect(error.code).toBe('payload_too_large')
})

/** A chat body of exactly `bytes` bytes, padded with metadata strings under max_string_chars. */
function chatOfBytes(bytes: number): string {
  const metadata: Record<string, string> = {}
  const body = chatBody('fake-model', { metadata })
  const size = () => Buffer.byteLength(JSON.stringify(body))
  for (let i = 0; size() + 920 < bytes; i++) metadata[`k${i}`] = 'x'.repeat(900)
  metadata.last = ''
  metadata.last = 'y'.repeat(bytes - size())
  return JSON.stringify(body)
}

test('a body of exactly --max-body-bytes is accepted', async () => {
  const text = chatOfBytes(MAX_BODY_BYTES)
  expect(Buffer.byteLength(text)).toBe(MAX_BODY_BYTES)
  expect((await postJson(gw, '/v1/chat/completions', text)).status).toBe(200)
})

test('a body one byte over --max-body-bytes is a 413', async () => {
  const text = chatOfBytes(MAX_BODY_BYTES + 1)
  expect(Buffer.byteLength(text)).toBe(MAX_BODY_BYTES + 1)
  expect((await expectOpenAIError(await postJson(gw, '/v1/chat/completions', text), 413)).code).toBe('payload_too_large')
})

test('the body limit counts bytes, not characters', async () => {
  const messages = ['user', 'assistant', 'user'].map((role) => ({ role, content: 'é'.repeat(700) }))
  const text = JSON.stringify(chatBody('fake-model', { messages }))
  expect(text.length).toBeLessThan(MAX_BODY_BYTES)
  expect((await expectOpenAIError(await postJson(gw, '/v1/chat/completions', text), 413)).code).toBe('payload_too_large')
})

// Whatever the client calls it, a body past the limit must not be read (or buffered) in full.
test.each([
  ['application/octet-stream', 'x'.repeat(MAX_BODY_BYTES + 2000)],
  ['multipart/form-data; boundary=b', `--b\r\nContent-Disposition: form-data; name="model"\r\n\r\n${'x'.repeat(MAX_BODY_BYTES + 2000)}\r\n--b--\r\n`],
  ['image/png', 'x'.repeat(MAX_BODY_BYTES + 2000)],
])('a body over --max-body-bytes sent as %s is a 413 payload_too_large', async (contentType, body) => {
  for (const path of ['/v1/chat/completions', '/sessions']) {
    const res = await gw.fetch(path, { method: 'POST', headers: { 'content-type': contentType }, body })
    expect({ path, status: res.status, code: ((await res.json()) as { error?: { code?: string } }).error?.code }).toEqual({ path, status: 413, code: 'payload_too_large' })
  }
})

test('a chunked body without content-length over --max-body-bytes is a 413 payload_too_large', async () => {
  const bytes = new TextEncoder().encode(JSON.stringify(chatBody('fake-model', { messages: [user('x'.repeat(MAX_BODY_BYTES * 2))] })))
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 512) controller.enqueue(bytes.slice(at, at + 512))
      controller.close()
    },
  })
  const res = await gw.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const error = await expectOpenAIError(res, 413)
  expect(error.code).toBe('payload_too_large')
})

test("on /v1/messages a body over --max-body-bytes is a 413 request_too_large in Anthropic's envelope", async () => {
  const res = await postJson(gw, '/v1/messages', anthropicBody({ messages: [user('x'.repeat(MAX_BODY_BYTES))] }))
  await expectAnthropicError(res, 413, 'request_too_large')
})

test('chat messages one over limits.max_messages is a 400 invalid_argument naming messages', async () => {
  const before = engine.inference().length
  const error = await expectOpenAIError(await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { messages: conversation(MAX_MESSAGES + 1) })), 400)
  expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument', param: 'messages' })
  expect(engine.inference()).toHaveLength(before)
})

test('chat with exactly limits.max_messages messages is answered', async () => {
  const messages = Array.from({ length: MAX_MESSAGES }, (_, i) => user(`turn ${i}`))
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { messages }))
  expect(res.status).toBe(200)
})

test("Anthropic messages over limits.max_messages is a 400 invalid_request_error in Anthropic's envelope", async () => {
  const res = await postJson(gw, '/v1/messages', anthropicBody({ messages: conversation(MAX_MESSAGES + 1) }))
  await expectAnthropicError(res, 400, 'invalid_request_error')
})

test('a string one over limits.max_string_chars is a 400 invalid_argument whose param is its path', async () => {
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { messages: [user('x'.repeat(MAX_STRING_CHARS + 1))] }))
  const error = await expectOpenAIError(res, 400)
  expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument', param: 'messages[0].content' })
})

test('a string of exactly limits.max_string_chars is accepted', async () => {
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { messages: [user('x'.repeat(MAX_STRING_CHARS))] }))
  expect(res.status).toBe(200)
})

// [route, body, the path the error must name]
const longStrings: [string, Record<string, unknown>, string][] = [
  ['/v1/chat/completions', chatBody('fake-model', { messages: [user('hi'), { role: 'assistant', content: 'y'.repeat(MAX_STRING_CHARS + 1) }] }), 'messages[1].content'],
  ['/v1/chat/completions', chatBody('fake-model', { metadata: { note: 'z'.repeat(MAX_STRING_CHARS + 1) } }), 'metadata.note'],
  ['/v1/chat/completions', chatBody('fake-model', { stop: ['end', 's'.repeat(MAX_STRING_CHARS + 1)] }), 'stop[1]'],
  ['/v1/completions', { model: 'fake-model', prompt: 'p'.repeat(MAX_STRING_CHARS + 1) }, 'prompt'],
  ['/v1/embeddings', { model: 'fake-model', input: ['ok', 'e'.repeat(MAX_STRING_CHARS + 1)] }, 'input[1]'],
  ['/sessions', { session_id: 'long-meta', metadata: { note: 'n'.repeat(MAX_STRING_CHARS + 1) } }, 'metadata.note'],
]

test.each(longStrings)('on %s a string over limits.max_string_chars is a 400 naming its path (case %#)', async (route, body, path) => {
  const error = await expectOpenAIError(await postJson(gw, route, body), 400)
  expect(error).toMatchObject({ code: 'invalid_argument', param: path })
})

test("on /v1/messages a string over limits.max_string_chars is a 400 in Anthropic's envelope", async () => {
  const res = await postJson(gw, '/v1/messages', anthropicBody({ messages: [user('x'.repeat(MAX_STRING_CHARS + 1))] }))
  await expectAnthropicError(res, 400, 'invalid_request_error')
})

test('JSON nested deeper than limits.max_json_depth is a 400 invalid_argument about nesting depth', async () => {
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { metadata: nested(MAX_JSON_DEPTH + 4) }))
  const error = await expectOpenAIError(res, 400)
  expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument' })
  expect(error.message).toMatch(/depth/i)
})

test('JSON nested a little is accepted', async () => {
  const res = await postJson(gw, '/v1/chat/completions', chatBody('fake-model', { metadata: nested(3) }))
  expect(res.status).toBe(200)
})

test("on /v1/messages JSON nested too deep is a 400 in Anthropic's envelope", async () => {
  const res = await postJson(gw, '/v1/messages', anthropicBody({ metadata: nested(MAX_JSON_DEPTH + 4) }))
  await expectAnthropicError(res, 400, 'invalid_request_error')
})

const HUGE = 100_000
const deepBodies: [string, string, string][] = [
  ['100 000 nested arrays in a chat body', '/v1/chat/completions', `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(HUGE)}${']'.repeat(HUGE)}}`],
  ['100 000 nested objects in a chat body', '/v1/chat/completions', `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"metadata":${'{"a":'.repeat(HUGE)}1${'}'.repeat(HUGE)}}`],
  ['100 000 nested arrays as an import', '/sessions/import', `${'['.repeat(HUGE)}${']'.repeat(HUGE)}`],
  ['100 000 nested arrays in a management body', '/v1/management/engines/register', `{"url":"http://127.0.0.1:9/v1","metadata":${'['.repeat(HUGE)}${']'.repeat(HUGE)}}`],
]

test.each(deepBodies)('%s is a 400 invalid_argument about depth, not a 500', async (_name, route, text) => {
  const error = await expectOpenAIError(await postJson(big, route, text), 400)
  expect(error.code).toBe('invalid_argument')
  expect(error.message).toMatch(/depth/i)
})

test('100 000 unclosed brackets are a 400, not a 500', async () => {
  const error = await expectOpenAIError(await postJson(big, '/v1/chat/completions', '['.repeat(HUGE)), 400)
  expect(error.type).toBe('invalid_request_error')
})

test("on /v1/messages 100 000 nested arrays are a 400 in Anthropic's envelope", async () => {
  const text = `{"model":"fake-model","max_tokens":16,"messages":${'['.repeat(HUGE)}${']'.repeat(HUGE)}}`
  await expectAnthropicError(await postJson(big, '/v1/messages', text), 400, 'invalid_request_error')
})

// Bun answers a bare 431 itself near 16 KiB of headers; 12 000 bytes is past the gateway's 8192 and short of Bun's.
test('one header past limits.max_header_bytes is a 431 request_header_fields_too_large', async () => {
  const error = await expectOpenAIError(await gw.fetch('/v1/models', { headers: { 'x-pad': 'p'.repeat(12_000) } }), 431)
  expect(error.code).toBe('request_header_fields_too_large')
})

test('many headers together past limits.max_header_bytes are a 431', async () => {
  const headers = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x-pad-${i}`, 'p'.repeat(1000)]))
  const error = await expectOpenAIError(await gw.fetch('/v1/models', { headers }), 431)
  expect(error.code).toBe('request_header_fields_too_large')
})

test('headers well under limits.max_header_bytes are served', async () => {
  const res = await gw.fetch('/v1/models', { headers: { 'x-pad': 'p'.repeat(MAX_HEADER_BYTES / 2) } })
  expect(res.status).toBe(200)
})

test("on /v1/messages headers past limits.max_header_bytes are a 431 in Anthropic's envelope", async () => {
  const res = await gw.fetch('/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pad': 'p'.repeat(12_000) },
    body: JSON.stringify(anthropicBody()),
  })
  expect(res.status).toBe(431)
  const body = (await res.json()) as { type: string; error: { type: string; message: string } }
  expect(body.type).toBe('error')
  expect(body.error.message.length).toBeGreaterThan(0)
})

test.each([
  ['markup', '<script>'],
  ['200 characters', 'x'.repeat(200)],
  ['a space', 'a b'],
  ['a semicolon', 'id;drop'],
])('an x-request-id with %s is replaced by a generated id, never echoed', async (_what, given) => {
  const res = await gw.fetch('/health', { headers: { 'x-request-id': given } })
  const id = res.headers.get('x-request-id')
  expect(id).not.toBe(given)
  expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
})

test('with default limits, JSON 100 levels deep is refused and 30 levels accepted (max_json_depth 64)', async () => {
  const plain = await startGateway(['--engine', engine.url])
  try {
    const deep = await expectOpenAIError(await postJson(plain, '/v1/chat/completions', chatBody('fake-model', { metadata: nested(100) })), 400)
    expect(deep.message).toMatch(/depth/i)
    expect((await postJson(plain, '/v1/chat/completions', chatBody('fake-model', { metadata: nested(30) }))).status).toBe(200)
  } finally {
    await plain.stop()
  }
})

test('a well-formed x-request-id is echoed', async () => {
  const res = await gw.fetch('/health', { headers: { 'x-request-id': 'req-42.a:B_c' } })
  expect(res.headers.get('x-request-id')).toBe('req-42.a:B_c')
})
