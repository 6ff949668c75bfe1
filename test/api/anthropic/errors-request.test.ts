// Requests the gateway refuses before any engine sees them: each is a 400 invalid_request_error (or
// 404 not_found_error for an unknown model) in Anthropic's envelope {type:"error", error:{type,
// message}}, which the SDK raises as its typed error, with a message naming the offending field.
import Anthropic, { BadRequestError, NotFoundError } from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { expectAnthropicError, rejectionOf, sharedGateway } from '../../helpers/anthropic'
import { type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const user = [{ role: 'user', content: 'hi' }]
const valid = { model: 'm', max_tokens: 16, messages: user }
const without = (field: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field))

// [case, body, text the message must contain]
const refused: [string, Record<string, unknown>, string][] = [
  ['max_tokens missing', without('max_tokens'), "'max_tokens'"],
  ['max_tokens 0', { ...valid, max_tokens: 0 }, "'max_tokens'"],
  ['temperature 1.5', { ...valid, temperature: 1.5 }, "'temperature'"],
  ['top_p -0.1', { ...valid, top_p: -0.1 }, "'top_p'"],
  ['top_k 2.5', { ...valid, top_k: 2.5 }, "'top_k'"],
  ['an unknown top-level field', { ...valid, frequency_penalty: 0.5 }, "Unknown parameter: 'frequency_penalty'"],
  ['no messages', { ...valid, messages: [] }, "'messages'"],
  ['a system role in messages', { ...valid, messages: [{ role: 'system', content: 'be brief' }] }, "'messages[0].role'"],
  [
    'a document block in user content',
    { ...valid, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] }] },
    "messages[0].content[0]: content blocks of type 'document' are not supported",
  ],
  [
    'a tool_result block in assistant content',
    { ...valid, messages: [...user, { role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }] }] },
    "messages[1].content[0]: content blocks of type 'tool_result'",
  ],
  ['a server tool', { ...valid, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, "tools[0]: server tools of type 'web_search_20250305'"],
  ['an unknown tool_choice type', { ...valid, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'sometimes' } }, 'tool_choice.type'],
  ['an unknown thinking type', { ...valid, thinking: { type: 'maybe' } }, 'thinking.type'],
  ['a misspelt output_config field', { ...valid, output_config: { efort: 'low' } }, "Unknown parameter: 'output_config.efort'"],
  ['an output_config.format without a schema', { ...valid, output_config: { format: { type: 'json_schema' } } }, "'output_config.format'"],
  ['a code execution container', { ...valid, container: 'container_1' }, "'container'"],
  ['a tool_use block without an id', { ...valid, messages: [...user, { role: 'assistant', content: [{ type: 'tool_use', name: 'f', input: {} }] }] }, 'messages[1].content[0]'],
]

for (const [name, body, says] of refused) {
  test(`${name}: the SDK raises BadRequestError invalid_request_error, and nothing reaches the engine`, async () => {
    const error = await rejectionOf(client.messages.create(body as unknown as Anthropic.MessageCreateParamsNonStreaming))
    expect(error).toBeInstanceOf(BadRequestError)
    const refusal = error as BadRequestError
    expect(refusal.status).toBe(400)
    expect(refusal.type).toBe('invalid_request_error')
    expect(refusal.apiMessage).toContain(says)
    expect(engine.inference()).toEqual([])
  })

  test(`${name}: a 400 in Anthropic's envelope on the wire`, async () => {
    const message = await expectAnthropicError(await postJson(gw, '/v1/messages', body), 400, 'invalid_request_error')
    expect(message).toContain(says)
  })
}

test('malformed JSON is a 400 invalid_request_error saying the body is not valid JSON', async () => {
  const res = await postJson(gw, '/v1/messages', '{"model": "m", "max_tokens": 5, "messages": [')
  expect(await expectAnthropicError(res, 400, 'invalid_request_error')).toContain('not valid JSON')
  expect(engine.inference()).toEqual([])
})

test('a JSON array body is a 400 invalid_request_error asking for an object', async () => {
  const res = await postJson(gw, '/v1/messages', JSON.stringify([valid]))
  expect(await expectAnthropicError(res, 400, 'invalid_request_error')).toContain('JSON object')
})

test('an unknown model is NotFoundError not_found_error naming it, through the SDK', async () => {
  const error = await rejectionOf(client.messages.create({ ...valid, model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }))
  expect(error).toBeInstanceOf(NotFoundError)
  expect((error as NotFoundError).type).toBe('not_found_error')
  expect((error as NotFoundError).apiMessage).toContain('no-such-model')
})

test('an unknown model is a 404 not_found_error in the envelope on the wire', async () => {
  const res = await postJson(gw, '/v1/messages', { ...valid, model: 'no-such-model' })
  expect(await expectAnthropicError(res, 404, 'not_found_error')).toContain("'no-such-model'")
  expect(engine.inference()).toEqual([])
})

test('an unknown model in a stream request is a 404 before any event', async () => {
  const error = await rejectionOf(client.messages.stream({ ...valid, model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).finalMessage())
  expect(error).toBeInstanceOf(NotFoundError)
})

// metadata's schema is closed (additionalProperties: false), but Elysia strips unnamed fields before
// validating: a misspelt session_id would silently lose the client its session.
test('a misspelt metadata field (sessionId) is a 400 naming it, not silently dropped', async () => {
  const res = await postJson(gw, '/v1/messages', { ...valid, metadata: { sessionId: 'my-session' } })
  expect(await expectAnthropicError(res, 400, 'invalid_request_error')).toContain('sessionId')
  expect(engine.inference()).toEqual([])
})

// README: "every answer carries request-id"; the SDK reads it into error.requestID.
test('a refused request still carries a request-id header, which the SDK reports as error.requestID', async () => {
  const error = await rejectionOf(client.messages.create(without('max_tokens') as unknown as Anthropic.MessageCreateParamsNonStreaming))
  expect(error).toBeInstanceOf(BadRequestError)
  expect((error as BadRequestError).requestID).toBeTruthy()
  expect((error as BadRequestError).requestID).toBe((error as BadRequestError).headers.get('x-request-id'))
})
