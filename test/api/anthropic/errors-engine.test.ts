// Engine answers the gateway cannot translate into a good Message: tool arguments that are not JSON
// (an api_error saying so, whole or as a stream's `error` event), and an engine's own 4xx (the
// client's fault, passed on as invalid_request_error with the engine's message).
import type Anthropic from '@anthropic-ai/sdk'
import { APIError, BadRequestError, InternalServerError } from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { answerChats, anthropicEventsOf, completion, expectAnthropicError, rejectionOf, sharedGateway } from '../../helpers/anthropic'
import { jsonResponse, sseResponse, type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'
import { chatChunk, DONE_EVENT, usageChunk } from '../../helpers/sessions'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]
const ask = { model: 'm', max_tokens: 64, tools, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] }
const BROKEN_ARGS = '{"city": Paris'

const brokenCallCompletion = () =>
  jsonResponse(completion({ content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: BROKEN_ARGS } }] }, 'tool_calls'))

const brokenCallStream = () =>
  sseResponse([
    chatChunk({ role: 'assistant', content: null }),
    chatChunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": ' } }] }),
    chatChunk({ tool_calls: [{ index: 0, function: { arguments: 'Paris' } }] }),
    chatChunk({}, 'tool_calls'),
    usageChunk({ prompt_tokens: 5, completion_tokens: 5 }),
    DONE_EVENT,
  ])

test('tool arguments that are not JSON are an api_error naming the tool and showing the arguments', async () => {
  answerChats(engine, brokenCallCompletion)
  const error = await rejectionOf(client.messages.create(ask))
  expect(error).toBeInstanceOf(InternalServerError)
  const failed = error as InternalServerError
  expect(failed.status).toBe(502)
  expect(failed.type).toBe('api_error')
  expect(failed.apiMessage).toContain("tool 'get_weather'")
  expect(failed.apiMessage).toContain('not a JSON object')
  expect(failed.apiMessage).toContain(BROKEN_ARGS)
})

test('tool arguments that are not JSON are a 502 api_error envelope on the wire', async () => {
  answerChats(engine, brokenCallCompletion)
  expect(await expectAnthropicError(await postJson(gw, '/v1/messages', ask), 502, 'api_error')).toContain('not a JSON object')
})

test('tool arguments that are a JSON array, not an object, are an api_error too', async () => {
  answerChats(engine, () => jsonResponse(completion({ content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_weather', arguments: '["Paris"]' } }] }, 'tool_calls')))
  await expectAnthropicError(await postJson(gw, '/v1/messages', ask), 502, 'api_error')
})

test('streamed tool arguments that are not JSON make the SDK stream raise an api_error', async () => {
  answerChats(engine, brokenCallStream)
  const stream = client.messages.stream(ask)
  const errors: unknown[] = []
  stream.on('error', (e) => errors.push(e))
  const error = await rejectionOf(stream.finalMessage())
  expect(error).toBeInstanceOf(APIError)
  expect((error as APIError).type).toBe('api_error')
  expect((error as APIError).apiMessage).toContain("tool 'get_weather'")
  expect(errors).toHaveLength(1)
})

test('on the wire, streamed tool arguments that are not JSON end with an error event instead of message_delta', async () => {
  answerChats(engine, brokenCallStream)
  const events = anthropicEventsOf(await (await postJson(gw, '/v1/messages', { ...ask, stream: true })).text())
  const names = events.map((e) => e.event)
  expect(names.at(-1)).toBe('error')
  expect(names).not.toContain('message_delta')
  expect(names).not.toContain('message_stop')
  expect(events.at(-1)!.data).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('not a JSON object') } })
})

test("an engine's 4xx (context too long) reaches the SDK as BadRequestError with the engine's message", async () => {
  answerChats(engine, () =>
    jsonResponse({ object: 'error', message: "This model's maximum context length is 4096 tokens", type: 'BadRequestError', param: null, code: 400 }, 400),
  )
  const error = await rejectionOf(client.messages.create(ask))
  expect(error).toBeInstanceOf(BadRequestError)
  expect((error as BadRequestError).type).toBe('invalid_request_error')
  expect((error as BadRequestError).apiMessage).toContain('maximum context length is 4096 tokens')
})
