// Every way an OpenAI request can be refused answers with a status and OpenAI's error envelope
// {error:{message,type,param,code}} (plus the sageLLM protocol's retryable), carries an x-request-id, and reaches SDK users as its typed errors.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import OpenAI, { APIError, BadRequestError, InternalServerError, NotFoundError } from 'openai'
import { startFakeEngine, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../../helpers/gateway'
import { expectOpenAIError, type OpenAIError } from '../../helpers/http'

const MAX_BODY_BYTES = 4096

let engine: FakeEngine
let gw: TestGateway
let bare: TestGateway

beforeAll(async () => {
  engine = await startFakeEngine({ models: ['fake-model'] })
  gw = await startGateway(['--engine', engine.url, '--max-body-bytes', String(MAX_BODY_BYTES)])
  bare = await startGateway([])
})
afterAll(async () => {
  await gw.stop()
  await bare.stop()
  await engine.stop()
})

/** The shared envelope check, plus the x-request-id every answer carries. */
async function expectEnvelope(res: Response, status: number): Promise<OpenAIError> {
  expect(res.headers.get('x-request-id')).toBeTruthy()
  return expectOpenAIError(res, status)
}

const user = [{ role: 'user', content: 'hi' }]
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'fake-model', messages: user, ...extra })

test('malformed JSON is a 400 invalid_json', async () => {
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', '{"model": "fake-model", "messages": ['), 400)
  expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null })
  expect(error.message).toContain('not valid JSON')
})

test('an empty body is a 400', async () => {
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', ''), 400)
  expect(error.type).toBe('invalid_request_error')
  expect(error.code).toBe('invalid_json')
})

test('a JSON array body is a 400 that asks for an object', async () => {
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', JSON.stringify([chat()])), 400)
  expect(error.type).toBe('invalid_request_error')
  expect(error.code).toBe('invalid_argument')
  // The array holds a model: an answer that calls it missing sends the client the wrong way.
  expect(error.message).toContain('JSON object')
  expect(error.param).toBeNull()
})

// [test name, body, param the error must name]
const invalidBodies: [string, Record<string, unknown>, string][] = [
  ['missing model', { messages: user }, 'model'],
  ['model: 5', chat({ model: 5 }), 'model'],
  ['missing messages', { model: 'fake-model' }, 'messages'],
  ['empty messages', chat({ messages: [] }), 'messages'],
  ['messages[0].role missing', chat({ messages: [{ content: 'hi' }] }), 'messages[0].role'],
  ['temperature: 3', chat({ temperature: 3 }), 'temperature'],
  ['top_p: 0', chat({ top_p: 0 }), 'top_p'],
  ['max_tokens: 0', chat({ max_tokens: 0 }), 'max_tokens'],
  ['n: 0', chat({ n: 0 }), 'n'],
  ['presence_penalty: 5', chat({ presence_penalty: 5 }), 'presence_penalty'],
  ['frequency_penalty: -3', chat({ frequency_penalty: -3 }), 'frequency_penalty'],
]

for (const [name, body, param] of invalidBodies) {
  test(`${name} is a 400 whose param and message name ${param}`, async () => {
    const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', body), 400)
    expect(error.type).toBe('invalid_request_error')
    expect(error.code).toBe('invalid_argument')
    expect(error.param).toBe(param)
    expect(error.message).toContain(`'${param}'`)
  })
}

// The OpenAI API refuses a string where an integer belongs ("expected an integer, but got a string").
for (const field of ['max_tokens', 'n']) {
  test(`${field} given as a numeric string is a 400 naming ${field} and never reaches the engine`, async () => {
    const before = engine.inference().length
    const res = await postJson(gw, '/v1/chat/completions', chat({ [field]: '2' }))
    const error = await expectEnvelope(res, 400)
    expect(error.param).toBe(field)
    expect(engine.inference()).toHaveLength(before)
  })
}

test('max_tokens: "0" is a 400 whose param and message name max_tokens', async () => {
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', chat({ max_tokens: '0' })), 400)
  expect(error.param).toBe('max_tokens')
  expect(error.message).toContain("'max_tokens'")
})

test('an invalid request never reaches the engine', async () => {
  const before = engine.inference().length
  await postJson(gw, '/v1/chat/completions', chat({ temperature: 3 }))
  expect(engine.inference()).toHaveLength(before)
})

test('an unknown model is a 404 model_not_found that names it', async () => {
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', chat({ model: 'no-such-model' })), 404)
  expect(error.code).toBe('model_not_found')
  expect(error.param).toBe('model')
  expect(error.message).toContain('no-such-model')
})

test('a body over --max-body-bytes is a 413 payload_too_large', async () => {
  const body = chat({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY_BYTES) }] })
  const error = await expectEnvelope(await postJson(gw, '/v1/chat/completions', body), 413)
  expect(error.code).toBe('payload_too_large')
  expect(error.message).toContain(String(MAX_BODY_BYTES))
})

test('a chunked body over --max-body-bytes is a 413 payload_too_large', async () => {
  const text = JSON.stringify(chat({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY_BYTES) }] }))
  const bytes = new TextEncoder().encode(text)
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 1024) controller.enqueue(bytes.slice(at, at + 1024))
      controller.close()
    },
  })
  const res = await gw.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const error = await expectEnvelope(res, 413)
  expect(error.code).toBe('payload_too_large')
})

test('an unknown route is a 404 in the envelope', async () => {
  const error = await expectEnvelope(await gw.fetch('/v1/no-such-route'), 404)
  expect(error.code).toBe('not_found')
  expect(error.message).toContain('/v1/no-such-route')
})

test('with no engine at all a request is a 503 unavailable that names the model', async () => {
  const error = await expectEnvelope(await postJson(bare, '/v1/chat/completions', chat({ model: 'wanted-model' })), 503)
  expect(error.code).toBe('unavailable')
  expect(error.message).toContain('wanted-model')
})

test("an error answer echoes the client's x-request-id", async () => {
  const res = await postJson(gw, '/v1/chat/completions', chat({ temperature: 3 }), { 'x-request-id': 'err-req-1' })
  expect(res.status).toBe(400)
  expect(res.headers.get('x-request-id')).toBe('err-req-1')
})

// The same refusals through the official SDK: its typed errors, with the gateway's message.
const sdk = (g: TestGateway): OpenAI => g.openai()
const rejected = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected the call to fail')
  },
  (e: unknown) => e,
)

test('the SDK raises BadRequestError with the gateway message and param for an out-of-range field', async () => {
  const error = await rejected(sdk(gw).chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], temperature: 3 }))
  expect(error).toBeInstanceOf(BadRequestError)
  const bad = error as BadRequestError
  expect(bad.status).toBe(400)
  expect(bad.param).toBe('temperature')
  expect(bad.code).toBe('invalid_argument')
  expect(bad.message).toContain("'temperature'")
  expect(bad.requestID).toBeTruthy()
})

test('the SDK raises BadRequestError for empty messages', async () => {
  const error = await rejected(sdk(gw).chat.completions.create({ model: 'fake-model', messages: [] }))
  expect(error).toBeInstanceOf(BadRequestError)
  expect((error as BadRequestError).param).toBe('messages')
})

test('the SDK raises NotFoundError with model_not_found for an unknown model', async () => {
  const error = await rejected(sdk(gw).chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }))
  expect(error).toBeInstanceOf(NotFoundError)
  expect((error as NotFoundError).code).toBe('model_not_found')
  expect((error as NotFoundError).message).toContain('no-such-model')
})

test('the SDK raises an APIError with status 413 for a body over the limit', async () => {
  const error = await rejected(sdk(gw).chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY_BYTES) }] }))
  expect(error).toBeInstanceOf(APIError)
  expect((error as APIError).status).toBe(413)
  expect((error as APIError).code).toBe('payload_too_large')
})

test('the SDK raises InternalServerError with status 503 when no engine serves the model', async () => {
  const error = await rejected(sdk(bare).chat.completions.create({ model: 'wanted-model', messages: [{ role: 'user', content: 'hi' }] }))
  expect(error).toBeInstanceOf(InternalServerError)
  expect((error as InternalServerError).status).toBe(503)
  expect((error as InternalServerError).code).toBe('unavailable')
  expect((error as InternalServerError).message).toContain('wanted-model')
})
